"""Unit tests of the toolkit pieces that do not need a kernel."""
import asyncio
import json
import threading
import time
import urllib.request

import pytest

from coursekit import authoring, progress
from coursekit.errors import raises
from coursekit.exercises import Chapter, Verdict, nudge

WRONG = nudge("ck.T001", "a test nudge", "Not 42.")
from coursekit.guard import run_guarded
from coursekit.predict import predict
from coursekit.servers import WorkerPoolServer
from coursekit.timing import Timeline, timed
from coursekit.upstream import Upstream, payload


# --- timing -------------------------------------------------------------------
def test_timeline_measures_overlap_wall_and_busy_time():
    t = Timeline("demo")
    t.add("a", 0.0, 1.0).add("b", 0.5, 1.5).add("c", 1.5, 2.0).add("queued", 0.0, 0.5, kind="wait")
    assert t.peak_overlap() == 2          # c starts exactly when b ends: not overlapping
    assert t.wall == pytest.approx(2.0)
    assert t.busy() == pytest.approx(2.5)  # wait spans are not work


def test_timeline_track_records_a_span_and_returns_the_value():
    t = Timeline()

    async def work():
        await asyncio.sleep(0.02)
        return 42

    assert asyncio.run(t.track("work", work())) == 42
    assert len(t) == 1 and t.spans[0].seconds >= 0.02


def test_timeline_plot_needs_spans():
    with pytest.raises(ValueError, match="no spans"):
        Timeline().plot(show=False)


def test_timeline_plot_draws_one_bar_per_span():
    import matplotlib

    matplotlib.use("Agg")
    t = Timeline("x").add("a", 0, 1).add("b", 0.2, 0.4, kind="failed")
    fig = t.plot(show=False)
    assert len(fig.axes[0].patches) == 2


def test_timed_works_as_sync_and_async_context_manager():
    with timed() as t:
        time.sleep(0.01)
    assert 0.01 <= t.seconds < 1

    async def main():
        async with timed() as t2:
            await asyncio.sleep(0.01)
        return t2.seconds

    assert 0.01 <= asyncio.run(main()) < 1


# --- raises -------------------------------------------------------------------
def test_raises_prints_the_error(capsys):
    with raises(ZeroDivisionError):
        1 / 0
    assert capsys.readouterr().out.strip() == "ZeroDivisionError: division by zero"


def test_raises_fails_when_nothing_is_raised():
    with pytest.raises(AssertionError, match="ran without an error"):
        with raises(ValueError):
            pass


def test_raises_lets_unexpected_errors_through():
    with pytest.raises(KeyError):
        with raises(ValueError):
            raise KeyError("x")


def test_raises_checks_the_message():
    with pytest.raises(AssertionError, match="does not mention"):
        with raises(ValueError, match="banana"):
            raise ValueError("apple")


# --- exercise authoring ---------------------------------------------------------
def test_strip_solutions_keeps_indentation_and_the_rest():
    source = "def f(x):\n    '''doc'''\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n\nprint(1)\n"
    assert authoring.strip_solutions(source) == (
        "def f(x):\n    '''doc'''\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\nprint(1)\n")


def test_strip_solutions_in_markdown():
    text = "Answer:\n### BEGIN SOLUTION\nforty-two\n### END SOLUTION\n"
    assert authoring.strip_solutions(text, "markdown") == "Answer:\nYOUR ANSWER HERE\n"


def test_strip_solutions_rejects_unbalanced_markers():
    with pytest.raises(ValueError, match="unbalanced"):
        authoring.strip_solutions("    ### BEGIN SOLUTION\n    x = 1\n")


def test_exercise_from_solution_drops_outputs_and_solution_only_cells():
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n",
                                  execution_count=3, outputs=[nbformat.v4.new_output("stream", text="x")]),
        nbformat.v4.new_markdown_cell("The reasoning.", metadata={"tags": ["solution-only"]}),
    ])
    out = authoring.exercise_from_solution(nb)
    assert len(out.cells) == 1
    assert out.cells[0].outputs == [] and out.cells[0].execution_count is None
    assert "raise NotImplementedError()" in out.cells[0].source


# --- progress and verdicts -------------------------------------------------------
def test_progress_records_attempts_passes_and_hints(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_PROGRESS_FILE", str(tmp_path / "p.json"))
    progress.record("01.x", False)
    progress.record("01.x", True)
    progress.record("01.x", False)  # a later failure does not take a pass back
    progress.record_hint("01.x", 2)
    entry = json.loads((tmp_path / "p.json").read_text())["01.x"]
    assert entry["attempts"] == 3 and entry["passed"] and entry["hints"] == 2


def test_progress_report_lists_every_exercise(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_PROGRESS_FILE", str(tmp_path / "p.json"))
    chapter = Chapter("09", "Demo")
    chapter.exercise("a", "First")(lambda ctx: None)
    chapter.exercise("b", "Second")(lambda ctx: None)
    progress.record("09.a", True)
    report = progress.report([chapter])
    assert "✓ 09.a" in report and "· 09.b" in report and "1 of 2 exercises passed." in report


def test_verdict_text_and_machine_readable_part():
    v = Verdict("01.x", False, expected="3", got="4", nudge="Round up.", nudge_id="ch01.W021")
    bundle = v._repr_mimebundle_()
    assert "Expected: 3" in bundle["text/plain"] and "Nudge:    Round up." in bundle["text/plain"]
    assert "(ch01.W021)" in bundle["text/plain"] and "(ch01.W021)</small>" in bundle["text/html"]
    assert bundle["application/vnd.coursekit.verdict+json"] == {"exercise": "01.x", "passed": False,
                                                                "nudge": "ch01.W021"}


def test_a_check_never_raises_and_records_progress(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_PROGRESS_FILE", str(tmp_path / "p.json"))
    chapter = Chapter("98", "Demo")

    @chapter.exercise("boom", "A check whose learner object explodes", needs=["thing"])
    async def check(ctx, thing):
        return thing.missing_attribute

    verdict = asyncio.run(chapter.session().check("boom", thing=object()))
    assert not verdict.passed and "AttributeError" in verdict.got and verdict.nudge_id == "ck.E003"
    assert progress.load()["98.boom"]["attempts"] == 1


def test_a_demo_session_records_nothing_and_restarts_its_hints(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSEKIT_PROGRESS_FILE", str(tmp_path / "p.json"))
    chapter = Chapter("97", "Demo")

    @chapter.exercise("x", "X", needs=["answer"], hints=["first", "second"])
    async def check(ctx, answer):
        ctx.expect(answer == 42, expected="42", got=str(answer), nudge=WRONG)

    for _ in range(2):  # a lesson run twice: the same output both times
        demo = chapter.session(demo=True)
        assert asyncio.run(demo.check("x", answer=41)).nudge_id == "ck.T001"
        demo.hint("x")
        assert "Hint 1 of 2" in capsys.readouterr().out
    assert progress.load() == {}


def test_a_nudge_is_required_to_have_an_id():
    from coursekit.exercises import Fail

    with pytest.raises(TypeError):
        Fail("x", "y", "a plain string nudge")


def test_a_busy_machine_gives_no_verdict_and_records_nothing(tmp_path, monkeypatch):
    from coursekit.exercises import Busy

    monkeypatch.setenv("COURSEKIT_PROGRESS_FILE", str(tmp_path / "p.json"))
    chapter = Chapter("96", "Demo")
    runs = []

    @chapter.exercise("timing", "T")
    async def check(ctx):
        runs.append(1)
        raise Busy("a timing")

    verdict = asyncio.run(chapter.session().check("timing"))
    assert verdict.passed is None and not verdict and len(runs) == 2  # judged once more, then honest
    assert "too busy to judge" in verdict.text() and progress.load() == {}


def test_a_check_reports_a_coroutine_left_unawaited():
    chapter = Chapter("95", "Demo")

    async def helper():
        return 1

    @chapter.exercise("leak", "L", needs=["fn"])
    async def check(ctx, fn):
        await ctx.call(fn)

    def forgets():
        helper()   # never awaited: Python warns when it is collected
        return 1

    verdict = asyncio.run(chapter.judge("leak", fn=forgets))
    assert verdict.nudge_id == "ck.W009" and "never awaited" in verdict.got


# --- the guard around learner code -------------------------------------------------
def test_guard_reports_a_blocked_event_loop():
    async def blocks():
        time.sleep(0.3)

    async def awaits():
        await asyncio.sleep(0.3)

    blocked = asyncio.run(run_guarded(blocks, timeout=5))
    free = asyncio.run(run_guarded(awaits, timeout=5))
    assert blocked.max_lag >= 0.25
    assert free.max_lag < 0.1


def _ends(thread, within=6.0):
    thread.join(within)
    return not thread.is_alive()


def test_guard_stops_an_endless_loop_and_its_thread_really_ends():
    def forever():
        while True:
            pass

    started = time.perf_counter()
    outcome = asyncio.run(run_guarded(forever, timeout=0.5))
    assert outcome.timed_out and time.perf_counter() - started < 3
    assert _ends(outcome.thread)


@pytest.mark.parametrize("kind", ["event", "sleep", "swallows-cancel"])
def test_guard_stops_async_code_that_waits_forever(kind):
    async def waits():
        if kind == "event":
            await asyncio.Event().wait()
        elif kind == "sleep":
            await asyncio.sleep(3600)
        else:
            while True:
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    pass   # a learner's broad except: only the injected exception stops this

    outcome = asyncio.run(run_guarded(waits, timeout=0.3))
    assert outcome.timed_out and _ends(outcome.thread)


def test_a_cancelled_check_still_stops_the_learner_thread():
    """Kernel > Interrupt or an outer timeout cancels the awaiting check: the learner's thread must end too."""
    box = {}

    def forever():
        box["thread"] = threading.current_thread()
        while True:
            pass

    async def main():
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await run_guarded(forever, timeout=30)

    asyncio.run(main())
    assert _ends(box["thread"])


def test_guard_hands_back_errors_and_values():
    assert asyncio.run(run_guarded(lambda: 1 / 0)).error.__class__ is ZeroDivisionError
    assert asyncio.run(run_guarded(lambda x: x * 2, 21)).value == 42


def test_check_context_spots_a_missing_await():
    from coursekit.exercises import Context, Fail

    chapter = Chapter("09", "Demo")
    chapter.exercise("x", "X")(lambda ctx: None)

    async def inner():
        return 1

    def forgot_await():
        return inner()

    from coursekit.lag import ThreadLag

    with ThreadLag() as control, pytest.raises(Fail) as caught:
        asyncio.run(Context(chapter.exercises["x"], control).call(forgot_await))
    assert "never awaited" in caught.value.got and caught.value.nudge_id == "ck.W001"


# --- prediction widget ------------------------------------------------------------
def test_prediction_has_a_text_fallback():
    p = predict("How long?", ["0.3 s", "0.75 s"])
    text = p._repr_mimebundle_()["text/plain"]
    assert "(a) 0.3 s" in text and "(b) 0.75 s" in text and "write it down" in text
    p.commit("0.75 s")
    assert p.choice == "0.75 s"
    with pytest.raises(ValueError):
        p.commit("2 s")


# --- upstream API ----------------------------------------------------------------
def test_upstream_serves_logs_and_fails_on_demand():
    async def main():
        api = await Upstream(latency=0.05).start()
        try:
            get = lambda path: urllib.request.urlopen(api.url + path, timeout=5)  # noqa: E731
            body = json.load(await asyncio.to_thread(get, "/weather/oslo"))
            api.configure(fail="hotels")
            try:
                await asyncio.to_thread(get, "/hotels/oslo")
                status = 200
            except urllib.error.HTTPError as exc:
                status = exc.code
            return body, status, list(api.calls)
        finally:
            await api.stop()

    body, status, calls = asyncio.run(main())
    assert body == payload("weather", "oslo")
    assert status == 503
    assert [c.status for c in calls] == [200, 503]
    assert calls[0].end - calls[0].start >= 0.05


def test_upstream_serves_concurrent_calls_concurrently():
    import aiohttp

    async def main():
        api = await Upstream(latency=0.2).start()
        try:
            async with aiohttp.ClientSession() as session:
                async def one(service):
                    async with session.get(f"{api.url}/{service}/kyoto") as r:
                        return r.status

                with timed() as t:
                    statuses = await asyncio.gather(*(one(s) for s in ["weather", "flights", "hotels"]))
            return statuses, t.seconds, api.peak_in_flight
        finally:
            await api.stop()

    statuses, seconds, peak = asyncio.run(main())
    assert statuses == [200] * 3 and peak == 3
    assert seconds < 0.5  # three 0.2 s calls together, not 0.6 s one after another


# --- the worker-pool WSGI server ---------------------------------------------------
def test_worker_pool_queues_requests_beyond_its_workers():
    def app(environ, start_response):
        time.sleep(0.1)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    from concurrent.futures import ThreadPoolExecutor

    with WorkerPoolServer(app, workers=2) as server:
        with ThreadPoolExecutor(6) as clients:
            with timed() as t:
                bodies = list(clients.map(lambda _: urllib.request.urlopen(server.url, timeout=5).read(), range(6)))
        timeline = server.timeline()
    assert bodies == [b"ok"] * 6
    assert timeline.peak_overlap() == 2
    assert t.seconds >= 0.28  # three waves of 0.1 s at the least (load only adds time)
    assert sum(s.waited > 0.05 for s in server.served) >= 3


# --- lag: a blocked loop versus a busy machine ------------------------------------------
def test_blame_tells_a_blocked_loop_from_a_stalled_machine():
    from coursekit.lag import Gaps, blame

    loop, quiet, stalled = Gaps(), Gaps(), Gaps()
    loop.add(1.0, 1.3)                 # the loop could not run for 0.3 s
    quiet.add(1.1, 1.105)              # the control thread ran on time meanwhile
    stalled.add(1.0, 1.28)             # the control thread was stalled too
    assert blame(loop, quiet, 0.05)[0] == "blocked"
    assert blame(loop, stalled, 0.05)[0] == "unsure"
    assert blame(Gaps(), quiet, 0.05)[0] == "ok"


def test_a_real_blocking_call_is_blamed_and_a_real_await_is_not():
    from coursekit.lag import ThreadLag, blame

    async def blocks():
        time.sleep(0.3)

    async def awaits():
        await asyncio.sleep(0.3)

    with ThreadLag() as control:
        blocked = asyncio.run(run_guarded(blocks, timeout=5))
        free = asyncio.run(run_guarded(awaits, timeout=5))
    assert blame(blocked.loop_gaps, control.gaps, 0.05)[0] in ("blocked", "unsure")
    assert blocked.max_lag >= 0.25
    assert blame(free.loop_gaps, control.gaps, 0.05)[0] == "ok"


# --- compare: alternating rounds, best of each ---------------------------------------------
def test_compare_keeps_each_sides_best_and_stops_once_clear():
    from coursekit.timing import compare

    rounds = {"slow": iter([0.9, 0.5, 0.6, 0.5]), "fast": iter([0.2, 0.1, 0.3, 0.1])}
    result = asyncio.run(compare({name: (lambda n=name: next(rounds[n])) for name in rounds},
                                 until=lambda best: best["slow"] > 3 * best["fast"], max_rounds=4))
    assert result.best == {"slow": 0.5, "fast": 0.1} and result.settled and result.rounds == 3
    assert result.ratio("slow", "fast") == pytest.approx(5)


def test_compare_times_calls_itself_and_says_when_unsettled():
    from coursekit.timing import compare

    async def nap():
        await asyncio.sleep(0.01)

    result = asyncio.run(compare({"a": nap, "b": nap}, until=lambda best: False, max_rounds=3))
    assert not result.settled and result.rounds == 3 and result.best["a"] >= 0.01


# --- the cleanup registry ----------------------------------------------------------------
def test_shutdown_walks_the_registry_newest_first_and_survives_a_broken_stop():
    from coursekit import cleanup

    stopped = []

    async def async_stop():
        stopped.append("second")

    def broken():
        raise RuntimeError("cannot")

    cleanup.register("first", lambda: stopped.append("first"))
    cleanup.register("broken", broken)
    token = cleanup.register("forgotten", lambda: stopped.append("never"))
    cleanup.register("second", async_stop)
    cleanup.unregister(token)
    problems = asyncio.run(cleanup.stop_all())
    assert stopped == ["second", "first"] and problems == ["broken: RuntimeError: cannot"]
    assert cleanup.pending() == []


# --- real servers as subprocesses, and bounded load ------------------------------------------
def test_a_server_process_is_probed_until_ready_and_stopped_by_shutdown():
    import os

    from coursekit import cleanup
    from coursekit.load import closed_loop
    from coursekit.servers import ServerProcess

    async def main():
        server = await ServerProcess(["{python}", "-m", "coursekit.upstream", "--port", "{port}", "--latency", "0.02"],
                                     probe="/", name="upstream").start()
        pid = server.process.pid
        assert server.started_in > 0 and cleanup.pending() == [f"upstream (pid {pid})"]
        result = await closed_loop(server.url + "/weather/oslo", clients=4, seconds=0.5)
        log = server._log.name
        assert await cleanup.stop_all() == []
        server.remove_log()
        return pid, result, log

    pid, result, log = asyncio.run(main())
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    assert not os.path.exists(log)
    assert result.completed >= 8 and not result.errors      # 4 clients x 0.5 s / 0.02 s each, at the least
    assert 0.02 <= result.p(50) <= result.p(99)


@pytest.mark.parametrize("use", [
    lambda value: json.dumps({"forecast": value}),   # a coroutine handed to JsonResponse / json.dumps
    lambda value: value["temp_c"],                   # subscripted
    lambda value: value.items(),                      # used as the dict it would have returned
])
def test_an_unawaited_result_used_as_a_value_is_read_as_a_missing_await(use):
    from coursekit.exercises import explain_error

    async def forecast():
        return {"temp_c": 21}

    pending = forecast()
    try:
        use(pending)
    except (TypeError, AttributeError) as error:
        fail = explain_error(error, "`weather_for`")
    finally:
        pending.close()
    assert fail.nudge_id == "ck.W002", fail.got
