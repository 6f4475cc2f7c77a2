"""Chapter 07: background work.

Every check switches the sandbox to django-tasks-db's database backend with an empty queue, calls
the learner's views (directly, or through Django's WSGI and ASGI handlers), then reads the queue's
table: what was enqueued, with which arguments. Where a task must run, the check works off the
queue itself with django-tasks-db's own Worker class on a plain thread, as `manage.py db_worker
--batch` would. Whether a task's body ran inside the request is seen by a spy on the sandbox tasks'
`time.sleep` (the export) or in the upstream's call log (the partner notice), never guessed from
timings; the one timing (the response time against the export done in the request) is compared
with coursekit.compare and, when it cannot settle, not judged.
"""
import asyncio
import concurrent.futures
import contextlib
import inspect
import json
import os
import random
import secrets
import sys
import threading
import time
import traceback
import uuid

from ..errors import describe
from ..exercises import UNAWAITED_RESULT, Busy, Chapter, Fail, Kind
from ..logs import capture_log
from ..sandbox import run_sync
from ..timing import compare
from .common import fresh_upstream, require_async

chapter = Chapter("07", "Background work")

DATABASE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# The longest the learner's loop may stall in one go. Enqueueing is a short insert on a worker thread, but
# under heavy load that thread's Python (the ORM, JSON) can hold the GIL for tens of milliseconds; the
# blocking these exercises are about (the export or a broker call on the loop) takes far longer.
ALLOW_BLOCK = 0.25

# --- nudges -----------------------------------------------------------------------------
IN_REQUEST = chapter.nudge(
    "W001", "the work ran in the request",
    "The task's work ran inside the request, so the client waited for it (and would fail with it). Hand it to "
    "the queue instead: `result = await task.aenqueue(...)`, and answer at once.")
SYNC_API = chapter.nudge(
    "W002", "a sync task method in async code",
    "`{method}()` is the sync API: with the database backend it runs a query on the event loop's thread. In an "
    "async view use `await ...{amethod}(...)`.")
NOT_QUEUED = chapter.nudge(
    "W003", "nothing in the queue",
    "Nothing was enqueued: the work was started in this process ({how}), where a stopping server, a closing "
    "loop or the garbage collector can lose it. A queue keeps a record outside the process: `result = await "
    "task.aenqueue(...)`.")
ARGS = chapter.nudge(
    "W004", "not the task, or not its arguments",
    "Enqueue `{task}` once per request, with {what} as its one argument: `await {task}.aenqueue({arg})`.")
ACCEPTED = chapter.nudge(
    "W005", "answer 202 Accepted",
    "The work is accepted, not done: answer with `status=202` (JsonResponse(..., status=202)).")
BODY = chapter.nudge(
    "W006", "the response's JSON",
    "Answer with exactly what the task asks for: {keys}. The id is the one the backend gave (`result.id`), the "
    "status is `result.status`.")
STALE = chapter.nudge(
    "W007", "a status that never changes",
    "The task has finished, and the status still says {got}. Read the task again on every request (`await "
    "send_receipt.aget_result(task_id)`): a result kept from the enqueue, or from an earlier request, is a "
    "snapshot.")
UNKNOWN_ID = chapter.nudge(
    "W008", "an unknown id is a 404",
    "An id the backend does not know raises TaskResultDoesNotExist (also a malformed one): catch it and answer "
    "`JsonResponse({{'error': ...}}, status=404)`.")
RETURN_VALUE = chapter.nudge(
    "W009", "return_value before the task succeeded",
    "`result.return_value` raises until the task is SUCCESSFUL (ValueError). Read it only when `result.status == "
    "TaskResultStatus.SUCCESSFUL`; the result is None otherwise.")
STATUS_VALUES = chapter.nudge(
    "W010", "the status, as the backend says it",
    "Report `result.status` as it is: READY, RUNNING, SUCCESSFUL or FAILED (not its label, not a word of your "
    "own).")
ERROR_FIELD = chapter.nudge(
    "W011", "the error's class path",
    "For a FAILED task report `result.errors[-1].exception_class_path`, a string (here {want}); None for any "
    "other status. (`exception_class` imports that path, and cannot import a model's DoesNotExist.)")
WRONG_TASK = chapter.nudge(
    "W012", "looked up on another task",
    "`some_task.aget_result(id)` refuses an id that belongs to another task (TaskResultMismatch). Look the id up "
    "on the task that was enqueued: `await send_receipt.aget_result(task_id)` (or `default_task_backend`).")
RESULT_FIELD = chapter.nudge(
    "W014", "the result: the task's return value",
    "For a SUCCESSFUL task report `result.return_value` as it is (here the receipt the task returned); None for "
    "any other status.")
NOT_A_RESPONSE = chapter.nudge(
    "W013", "a view returns a response",
    "A view returns an HttpResponse: `return JsonResponse({{...}}, status=202)`, not {kind}.")


# --- the chapter's reading of learner errors ------------------------------------------------------
def _task_api_frames(exc):
    """Names of the django.tasks / django-tasks-db functions on the exception's traceback."""
    import django.tasks
    import django_tasks_db

    roots = tuple(os.path.normcase(os.path.dirname(os.path.abspath(m.__file__))) + os.sep
                  for m in (django.tasks, django_tasks_db))
    return {frame.name for frame in traceback.extract_tb(exc.__traceback__)
            if os.path.normcase(os.path.abspath(frame.filename)).startswith(roots)}


@chapter.explainer
def explain(exc, what):
    from django.core.exceptions import SynchronousOnlyOperation
    from django.tasks.exceptions import TaskResultDoesNotExist, TaskResultMismatch

    def fail(nudge):
        return Fail(f"{what} to run without an error", describe(exc, width=88), nudge, kind=Kind.ERROR, cause=exc)

    if isinstance(exc, TaskResultDoesNotExist):
        return fail(UNKNOWN_ID)
    if isinstance(exc, TaskResultMismatch):
        return fail(WRONG_TASK)
    names = _task_api_frames(exc)
    if isinstance(exc, ValueError) and "return_value" in names:
        return fail(RETURN_VALUE)
    if isinstance(exc, ImportError) and "exception_class" in names:
        return fail(ERROR_FIELD.format(want="trips.models.Booking.DoesNotExist"))
    if "call" in names and isinstance(exc, (SynchronousOnlyOperation, RuntimeError)):
        return fail(IN_REQUEST)  # task.call(...) in async code: the task's body, here and now
    if isinstance(exc, SynchronousOnlyOperation):
        for method, amethod in (("enqueue", "aenqueue"), ("get_result", "aget_result"), ("refresh", "arefresh")):
            if method in names:
                return fail(SYNC_API.format(method=method, amethod=amethod))
    return None


# --- the queue: the database backend, emptied, worked off by the check ----------------------------
@contextlib.asynccontextmanager
async def _database_queue():
    """The database task backend with an empty queue, before and after (a check may run twice)."""
    from django.test.utils import override_settings

    with override_settings(TASKS=DATABASE), capture_log("django.tasks"), capture_log("django_tasks_db"):
        await run_sync(_empty_queue)
        try:
            yield
        finally:
            await run_sync(_empty_queue)


def _empty_queue():
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.all().delete()


def _rows():
    from django_tasks_db.models import DBTaskResult

    return [{"id": str(row.id), "task": row.task_path, "args": row.args_kwargs.get("args", []),
             "kwargs": row.args_kwargs.get("kwargs", {}), "status": row.status}
            for row in DBTaskResult.objects.order_by("enqueued_at")]


async def _on_plain_thread(fn, *args):
    """fn(*args) on a new thread with no event loop (a worker process's main thread, a WSGI worker)."""
    done = concurrent.futures.Future()

    def work():
        try:
            done.set_result(fn(*args))
        except BaseException as exc:  # handed to the awaiting check
            done.set_exception(exc)
        finally:
            from django.db import connections

            connections.close_all()

    thread = threading.Thread(target=work, name="coursekit-task-worker")
    thread.start()
    try:
        return await asyncio.wrap_future(done)
    finally:
        await asyncio.to_thread(thread.join)


def _work_off_the_queue():
    from django_tasks_db.management.commands.db_worker import Worker

    Worker(queue_names=["default"], interval=0, batch=True, backend_name="default", startup_delay=False,
           max_tasks=None, worker_id="coursekit-check", excluded_queue_names=[]).run()


async def _run_queue():
    """Every ready task run by django-tasks-db's Worker, as `manage.py db_worker --batch` would."""
    await _on_plain_thread(_work_off_the_queue)


def _sample(values, n):
    return random.Random(secrets.randbits(64)).sample(list(values), n)


def _trip_ids():
    from trips.models import Trip

    return list(Trip.objects.values_list("pk", flat=True))


def _references():
    from trips.models import Booking

    return list(Booking.objects.values_list("reference", flat=True))


# --- calling the learner's views ----------------------------------------------------------------
class _Visit:
    response = None
    returned = None
    left = ()


async def _stop_leftovers():
    """Tasks the view left on its loop (fire and forget): their names; cancelled, so none outlives the check."""
    me = asyncio.current_task()
    pending = [t for t in asyncio.all_tasks() if t is not me and not t.done()
               and not t.get_name().startswith("coursekit-")]
    names = [getattr(t.get_coro(), "__qualname__", t.get_name()) for t in pending if not t.cancelling()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=1.0)
        for task in pending:
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: no "exception was never retrieved" later
    return names


def _visit(view, *args):
    """An async function for ctx.call: the view on the learner's loop, when it returned, what it left running."""
    async def visit():
        result = _Visit()
        try:
            result.response = await view(*args)
        finally:
            result.returned = time.perf_counter()
            result.left = await _stop_leftovers()
        return result
    return visit


def _json(response, what):
    from django.http import HttpResponseBase

    if inspect.iscoroutine(response):
        response.close()
        raise Fail(f"{what} to return a response", "a coroutine object, never awaited", UNAWAITED_RESULT,
                   kind=Kind.UNAWAITED)
    if not isinstance(response, HttpResponseBase):
        raise Fail(f"{what} to return a JsonResponse", f"{type(response).__name__}: {response!r}",
                   NOT_A_RESPONSE.format(kind=f"a {type(response).__name__}"))
    try:
        return json.loads(response.content)
    except ValueError:
        raise Fail(f"{what} to answer with JSON", response.content[:80].decode(errors="replace"),
                   NOT_A_RESPONSE.format(kind="text that is not JSON")) from None


def _judge_queued(rows, task, value, keyword, what, *, ran_in_request=False, left=(), how=None):
    """Exactly one row: `task` with `value` as its one argument (positional, or as `keyword`)."""
    path = f"trips.tasks.{task}"
    if ran_in_request:
        raise Fail(f"{what} to enqueue `{task}` and answer at once", "the task's work ran inside the request",
                   IN_REQUEST)
    if not rows:
        raise Fail(f"{what} to leave a `{task}` task in the queue", "the queue is empty" + (
            f"; the view left {', '.join(left)} running on its loop" if left else ""),
            NOT_QUEUED.format(how=how or ("create_task" if left else "a task or a thread, or not at all")))
    mine = [row for row in rows if row["task"] == path]
    nudge = ARGS.format(task=task, what=f"the {keyword.replace('_', ' ')}", arg=keyword)
    got = "; ".join(f"{row['task'].rsplit('.', 1)[-1]} args={row['args']} kwargs={row['kwargs']}" for row in rows)
    if len(rows) != 1 or len(mine) != 1:
        raise Fail(f"one `{task}` task per request", got, nudge)
    row = mine[0]
    given = (row["args"], row["kwargs"])
    if given not in (([value], {}), ([], {keyword: value})):  # positional, or by name
        raise Fail(f"`{task}` enqueued with {value!r}", got, nudge)
    return row


def _judge_status(response, want, what):
    ctx_status = getattr(response, "status_code", None)
    if ctx_status != want:
        raise Fail(f"{what} to answer HTTP {want}", f"HTTP {ctx_status}", ACCEPTED if want == 202 else UNKNOWN_ID)


def _judge_body(data, want, what):
    """Every key asked for, with the right value (more keys are fine)."""
    if not isinstance(data, dict) or any(key not in data or data[key] != value for key, value in want.items()):
        keys = ", ".join(f'"{k}"' for k in want)
        raise Fail(f"{what} to answer {json.dumps(want)}", json.dumps(data) if isinstance(data, dict) else repr(data),
                   BODY.format(keys=f"{{{keys}}}"))


# --- 1. a slow export, out of the request --------------------------------------------------------
class _SleepSpy:
    """Stands in for trips.tasks' `time` module: notes when a task's slow part ran (start, end)."""

    def __init__(self):
        self.runs = []

    def sleep(self, seconds):
        start = time.perf_counter()
        time.sleep(seconds)
        self.runs.append((start, time.perf_counter()))

    def __getattr__(self, name):
        return getattr(time, name)


def _export_now(trip_id):
    """The export as the notebook's export_now builds it: in the request (a sync view on a worker thread)."""
    from django.http import JsonResponse

    from trips.tasks import bookings_export

    return JsonResponse(bookings_export.call(trip_id))


@chapter.exercise(
    "export-later", "Take a slow export out of the request",
    needs=["export_later"],
    hints=[
        "The view should not build the export at all: it asks the backend to run `bookings_export` later, and "
        "answers with the receipt it gets back.",
        "`result = await bookings_export.aenqueue(trip_id)` returns a TaskResult at once; `result.id` and "
        "`result.status` go in the JSON.",
        "result = await bookings_export.aenqueue(trip_id); return JsonResponse({'task_id': result.id, "
        "'status': result.status}, status=202)",
    ],
    timeout=20,
)
async def check_export_later(ctx, export_later):
    from unittest import mock

    from django.test import RequestFactory

    import trips.tasks

    require_async(export_later, "export_later")
    trip_ids = _sample(await run_sync(_trip_ids), 2)
    async with _database_queue():
        for trip_id in trip_ids:
            what = f"`export_later(request, {trip_id})`"
            request = RequestFactory().post(f"/exports/{trip_id}/")
            spy = _SleepSpy()
            with mock.patch.object(trips.tasks, "time", spy):
                visit = await ctx.call(_visit(export_later, request, trip_id), allow_block=ALLOW_BLOCK, what=what)
            data = _json(visit.response, what)
            rows = await run_sync(_rows)
            ran = any(end <= visit.returned for _, end in spy.runs)
            row = _judge_queued(rows, "bookings_export", trip_id, "trip_id", what, ran_in_request=ran,
                                left=visit.left, how="a thread" if spy.runs else None)
            _judge_status(visit.response, 202, what)
            _judge_body(data, {"task_id": row["id"], "status": "READY"}, what)
            await run_sync(_empty_queue)

        # The client's wait, before and after: best of alternating rounds (a busy machine only adds time).
        trip_id = trip_ids[0]
        request = RequestFactory().post(f"/exports/{trip_id}/")
        result = await compare(
            {"in the request": lambda: ctx.call(_export_now, trip_id, what="the export in the request"),
             "export_later": lambda: ctx.call(export_later, request, trip_id, what="`export_later`")},
            until=lambda best: best["in the request"] > 3 * best["export_later"], max_rounds=6)
        if not result.settled:
            raise Busy(f"export_later to answer well before the export's {trips.tasks.EXPORT_SECONDS} s (best "
                       f"{result.best['export_later']:.2f} s against {result.best['in the request']:.2f} s)")
    return "The client gets its 202 at once; the export waits in the queue for a worker, by id."


# --- 2. enqueue a receipt, then report on it ----------------------------------------------------
async def _statuses(ctx, receipt_status, task_ids, what):
    """receipt_status for every id, all at once (one request each), on the learner's loop."""
    from django.test import RequestFactory

    async def both():
        try:
            return await asyncio.gather(*(receipt_status(RequestFactory().get(f"/receipts/{task_id}/"), task_id)
                                          for task_id in task_ids))
        finally:
            await _stop_leftovers()

    responses = await ctx.call(both, allow_block=ALLOW_BLOCK, what=what)
    return [(response, _json(response, what)) for response in responses]


def _judge_report(response, data, want, what, *, finished):
    _judge_status_200(response, what)
    if not isinstance(data, dict) or not {"status", "result", "error"} <= set(data):
        raise Fail(f'{what} to answer {{"status", "result", "error"}}', json.dumps(data),
                   BODY.format(keys='{"status": ..., "result": ..., "error": ...}'))
    if data["status"] != want["status"]:
        known = {"READY", "RUNNING", "SUCCESSFUL", "FAILED"}
        if data["status"] not in known:
            raise Fail(f'status "{want["status"]}"', json.dumps(data["status"]), STATUS_VALUES)
        raise Fail(f'status "{want["status"]}"' + (" once the task has run" if finished else ""),
                   json.dumps(data["status"]), STALE.format(got=data["status"]))
    if data["error"] != want["error"]:
        raise Fail(f"error {json.dumps(want['error'])}", json.dumps(data["error"]),
                   ERROR_FIELD.format(want="trips.models.Booking.DoesNotExist"))
    if data["result"] != want["result"]:
        raise Fail(f"result {json.dumps(want['result'])}", json.dumps(data["result"]), RESULT_FIELD)


def _judge_status_200(response, what):
    if response.status_code != 200:
        raise Fail(f"{what} to answer HTTP 200 for a task it knows", f"HTTP {response.status_code}",
                   UNKNOWN_ID if response.status_code == 404 else BODY.format(
                       keys='{"status": ..., "result": ..., "error": ...}'))


def _expected_receipt(reference):
    from trips.tasks import send_receipt

    return json.loads(json.dumps(send_receipt.call(reference)))


@chapter.exercise(
    "receipt-status", "Enqueue a receipt, then say where it stands",
    needs=["request_receipt", "receipt_status"],
    hints=[
        "request_receipt is like export_later: `await send_receipt.aenqueue(reference)`, then a 202 with the id. "
        "receipt_status looks the id up again on every request: `await send_receipt.aget_result(task_id)`.",
        "`aget_result` raises TaskResultDoesNotExist for an id it does not know: a 404. `return_value` exists "
        "only for a SUCCESSFUL task; `errors` holds what a FAILED one raised.",
        "result = await send_receipt.aget_result(task_id); data = {'status': result.status, 'result': None, "
        "'error': None}; if result.status == TaskResultStatus.SUCCESSFUL: data['result'] = result.return_value; "
        "elif result.status == TaskResultStatus.FAILED: data['error'] = result.errors[-1].exception_class_path",
    ],
    timeout=20,
)
async def check_receipt_status(ctx, request_receipt, receipt_status):
    from django.test import RequestFactory

    require_async(request_receipt, "request_receipt")
    require_async(receipt_status, "receipt_status")
    good = _sample(await run_sync(_references), 1)[0]
    bad = f"XX{random.Random(secrets.randbits(64)).randint(1000, 9999)}"  # no such booking: the task fails
    async with _database_queue():
        ids = {}
        for reference in (good, bad):
            what = f"`request_receipt(request, {reference!r})`"
            visit = await ctx.call(_visit(request_receipt, RequestFactory().post(f"/receipts/{reference}/"),
                                          reference), allow_block=ALLOW_BLOCK, what=what)
            data = _json(visit.response, what)
            rows = [row for row in await run_sync(_rows) if row["id"] not in ids.values()]
            row = _judge_queued(rows, "send_receipt", reference, "reference", what, left=visit.left)
            _judge_status(visit.response, 202, what)
            _judge_body(data, {"task_id": row["id"]}, what)
            ids[reference] = row["id"]

        what = "`receipt_status(request, task_id)` for both receipts at once, before any worker ran"
        for (response, data), reference in zip(await _statuses(ctx, receipt_status, list(ids.values()), what), ids):
            _judge_report(response, data, {"status": "READY", "result": None, "error": None},
                          f"for {reference}, before a worker ran", finished=False)

        await _run_queue()
        want = {good: {"status": "SUCCESSFUL", "result": await run_sync(_expected_receipt, good), "error": None},
                bad: {"status": "FAILED", "result": None, "error": "trips.models.Booking.DoesNotExist"}}
        what = "`receipt_status(request, task_id)` for both receipts at once, after the worker ran"
        for (response, data), reference in zip(await _statuses(ctx, receipt_status, list(ids.values()), what), ids):
            _judge_report(response, data, want[reference], f"for {reference} after the worker ran", finished=True)

        for unknown in (str(uuid.uuid4()), "not-a-task-id"):
            what = f"`receipt_status(request, {unknown!r})`"
            visit = await ctx.call(_visit(receipt_status, RequestFactory().get(f"/receipts/{unknown}/"), unknown),
                                   allow_block=ALLOW_BLOCK, what=what)
            _json(visit.response, what)
            _judge_status(visit.response, 404, what + " (an id nobody enqueued)")
    return "202 and an id at once; READY, then SUCCESSFUL with the receipt or FAILED with its error; 404 otherwise."


# --- 3. a partner notice that must not be lost ----------------------------------------------------
@contextlib.contextmanager
def _request_errors():
    """The exceptions Django turned into a 500 while the block ran (got_request_exception)."""
    from django.core.signals import got_request_exception

    errors = []

    def note(sender, request=None, **kwargs):
        errors.append(sys.exc_info()[1])

    got_request_exception.connect(note, weak=False, dispatch_uid="coursekit-ch07")
    try:
        yield errors
    finally:
        got_request_exception.disconnect(dispatch_uid="coursekit-ch07")


def _wsgi_post(app, url):
    from .. import wsgi

    started = time.perf_counter()
    status, headers, body = wsgi.call(app, url, "POST")
    return status, body, started, time.perf_counter()


def _asgi_post(app, url):
    from .. import asgi

    async def post():
        response = await asgi.request(app, url, "POST")
        returned = time.perf_counter()
        left = await _stop_leftovers()
        return response, returned, left
    return post


@chapter.exercise(
    "keep-the-notice", "A partner notice that must not be lost",
    needs=["checkout"],
    hints=[
        "A strong reference, shield or a thread all keep the notice inside this process. Put it in the queue: "
        "the sandbox's `notify_partner` task makes the same call to the partner service.",
        "`await notify_partner.aenqueue(reference)` works in an async view under ASGI and under WSGI alike: it "
        "only writes a row.",
        "result = await notify_partner.aenqueue(reference); return JsonResponse({'reference': reference, "
        "'partner': 'queued', 'task_id': result.id}, status=202)",
    ],
    timeout=20,
)
async def check_keep_the_notice(ctx, checkout):
    from django.core.handlers.asgi import ASGIHandler
    from django.core.handlers.wsgi import WSGIHandler
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt

    from ..routes import mounted

    require_async(checkout, "checkout")
    references = _sample(await run_sync(_references), 2)
    async with fresh_upstream(latency={"partners": 0.2}) as api, _database_queue():
        with mounted(path("ck07/checkout/<str:reference>/", csrf_exempt(checkout))):
            handlers = {"WSGI": WSGIHandler(), "ASGI": ASGIHandler()}  # built before anything is judged
            ids = {}
            for (kind, app), reference in zip(handlers.items(), references):
                url = f"/ck07/checkout/{reference}/"
                what = f"POST {url} under {kind}"
                with _request_errors() as errors:
                    if kind == "WSGI":
                        status, body, _, returned = await ctx.call(_wsgi_post, app, url, what=what)
                        left = ()
                    else:
                        response, returned, left = await ctx.call(_asgi_post(app, url), allow_block=ALLOW_BLOCK,
                                                                  what=what)
                        status, body = response.status, response.body
                if errors:  # Django answered 500: read the view's own error
                    raise chapter.explain(errors[0], f"the view, {what},")
                rows = [row for row in await run_sync(_rows) if row["id"] not in ids.values()]
                calls = _partner_calls(api, reference)
                in_request = any(call.status == 200 and call.end <= returned for call in calls)
                row = _judge_queued(rows, "notify_partner", reference, "reference", what, ran_in_request=in_request,
                                    left=left, how="create_task, shield or a thread" if calls or left else None)
                if status != 202:
                    raise Fail(f"{what} to answer HTTP 202", f"HTTP {status}", ACCEPTED)
                try:
                    data = json.loads(body)
                except ValueError:
                    raise Fail(f"{what} to answer with JSON", body[:80].decode(errors="replace"),
                               NOT_A_RESPONSE.format(kind="text that is not JSON")) from None
                _judge_body(data, {"reference": reference, "partner": "queued", "task_id": row["id"]}, what)
                ids[reference] = row["id"]

            await _run_queue()
            rows = {row["id"]: row for row in await run_sync(_rows)}
            delivered = {ref: [c.status for c in _partner_calls(api, ref)] for ref in references}
            if any(rows[ids[ref]]["status"] != "SUCCESSFUL" or delivered[ref] != [200] for ref in references):
                raise Fail("each notice delivered once the worker ran", f"partner calls {delivered}, task statuses "
                           f"{[rows[ids[ref]]['status'] for ref in references]}",
                           ARGS.format(task="notify_partner", what="the reference", arg="reference"))
    return "Under WSGI and ASGI alike the notice waited in the queue, and the worker delivered it."


def _partner_calls(api, reference):
    return [call for call in api.calls if call.service == "partners" and call.city == reference]
