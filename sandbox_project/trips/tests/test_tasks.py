"""Tests for chapter 07's tasks and views, with each of the three task backends.

The database backend's queue is worked off in-process by django-tasks-db's own Worker class
(`run()` in batch mode: every ready task, then return), so no worker process is needed.
"""
from django.tasks import TaskResultStatus, task_backends
from django.tasks.exceptions import InvalidTask
from django.test import AsyncClient, TestCase, override_settings
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from coursekit.upstream import Upstream, payload
from trips import tasks
from trips.seed import seed

IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
DUMMY = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
DATABASE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def work_off_the_queue():
    """What `manage.py db_worker --batch` does, in this process: run every ready task, then return."""
    Worker(queue_names=["default"], interval=0, batch=True, backend_name="default", startup_delay=False,
           max_tasks=None, worker_id="test-worker", excluded_queue_names=[]).run()


class TaskTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        seed()

    def test_trip_report_sums_confirmed_bookings(self):
        report = tasks.trip_report.call(1, seconds=0)
        self.assertEqual(report["trip"], 1)
        self.assertEqual(report["bookings"], 2)
        self.assertEqual(report["total_eur"], "640")

    def test_bookings_export_is_csv(self):
        export = tasks.bookings_export.call(2, seconds=0)
        lines = export["csv"].splitlines()
        self.assertEqual(lines[0], "reference,kind,amount_eur,status")
        self.assertEqual([line.split(",")[0] for line in lines[1:]], ["FL0002", "HT0002"])

    def test_send_receipt_for_an_unknown_booking_fails(self):
        self.assertEqual(tasks.send_receipt.call("FL0001")["to"], "alice@example.com")
        with self.assertRaises(tasks.Booking.DoesNotExist):
            tasks.send_receipt.call("XX0000")

    def test_tasks_have_importable_paths(self):
        for task in (tasks.trip_report, tasks.bookings_export, tasks.send_receipt, tasks.notify_partner):
            self.assertEqual(task.module_path, f"trips.tasks.{task.name}")

    async def test_notify_partner_is_an_async_task(self):
        api = await Upstream(latency=0.01).start()
        try:
            with override_settings(UPSTREAM_BASE_URL=api.url):
                answer = await tasks.notify_partner.acall("HT0003")
        finally:
            await api.stop()
        self.assertEqual(answer, {"reference": "HT0003", "partner": payload("partners", "HT0003")})
        self.assertEqual([(c.service, c.city) for c in api.calls], [("partners", "HT0003")])


class ImmediateBackendTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        seed()

    @override_settings(TASKS=IMMEDIATE)
    async def test_report_later_runs_the_task_inside_the_request(self):
        response = await AsyncClient().get("/tasks/report/1/")
        self.assertEqual(response.status_code, 202)
        self.assertEqual(response.json()["status"], "SUCCESSFUL")

    @override_settings(TASKS=IMMEDIATE)
    async def test_status_needs_a_backend_that_keeps_results(self):
        response = await AsyncClient().get("/tasks/whatever/")
        self.assertEqual(response.status_code, 501)

    @override_settings(TASKS=IMMEDIATE)
    def test_run_after_is_refused(self):
        from datetime import timedelta

        from django.utils import timezone

        with self.assertRaises(InvalidTask):
            tasks.send_receipt.using(run_after=timezone.now() + timedelta(minutes=1))

    def test_report_now_answers_with_the_report(self):
        response = self.client.get("/tasks/report/1/now/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["title"], "Pastéis and trams")


class DummyBackendTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        seed()

    @override_settings(TASKS=DUMMY)
    def test_report_later_only_enqueues(self):
        backend = task_backends["default"]  # made here first, so the request's context shares it
        response = self.client.get("/tasks/report/4/")
        self.assertEqual(response.status_code, 202)
        self.assertEqual(response.json()["status"], "READY")
        (result,) = backend.results
        self.assertEqual((result.task.name, result.args), ("trip_report", [4]))


@override_settings(TASKS=DATABASE)
class DatabaseBackendTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        seed()

    async def test_report_later_status_and_result(self):
        client = AsyncClient()
        queued = await client.get("/tasks/report/2/")
        self.assertEqual(queued.status_code, 202)
        task_id = queued.json()["task_id"]
        self.assertEqual(queued.json()["status_url"], f"/tasks/{task_id}/")
        self.assertEqual((await client.get(f"/tasks/{task_id}/")).json()["status"], "READY")
        row = await DBTaskResult.objects.aget(id=task_id)
        self.assertEqual((row.task_path, row.args_kwargs["args"]), ("trips.tasks.trip_report", [2]))

        await self.run_queue()  # nothing else runs the queue: the test does
        done = (await client.get(f"/tasks/{task_id}/")).json()
        self.assertEqual(done["status"], "SUCCESSFUL")
        self.assertEqual(done["result"]["title"], "Temples in spring")
        self.assertIsNone(done["error"])

    async def test_a_failed_task_reports_its_error(self):
        result = await tasks.send_receipt.aenqueue("XX0000")
        await self.run_queue()
        status = (await AsyncClient().get(f"/tasks/{result.id}/")).json()
        self.assertEqual(status["status"], "FAILED")
        self.assertEqual(status["error"], "trips.models.Booking.DoesNotExist")

    async def test_unknown_and_malformed_ids_are_404(self):
        for task_id in ("2b1f4a57-9f0e-4ee3-9f59-59e6c9a1b7a2", "not-a-task-id"):
            response = await AsyncClient().get(f"/tasks/{task_id}/")
            self.assertEqual(response.status_code, 404, task_id)

    async def test_priority_then_age(self):
        low = await tasks.send_receipt.using(priority=-5).aenqueue("FL0001")
        first = await tasks.send_receipt.aenqueue("FL0002")
        high = await tasks.send_receipt.using(priority=5).aenqueue("FL0003")
        second = await tasks.send_receipt.aenqueue("FL0004")
        await self.run_queue()
        rows = [row async for row in DBTaskResult.objects.order_by("started_at")]
        ids = [str(row.id) for row in rows]
        self.assertEqual(ids, [high.id, first.id, second.id, low.id])
        self.assertTrue(all(row.status == TaskResultStatus.SUCCESSFUL for row in rows))

    async def run_queue(self):
        from asgiref.sync import sync_to_async

        await sync_to_async(work_off_the_queue)()
