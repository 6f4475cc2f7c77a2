"""Unit tests of the toolkit pieces that do not need a kernel."""
import asyncio
import json
import time
import urllib.request

import pytest

from coursekit import authoring, progress
from coursekit.errors import raises
from coursekit.exercises import Chapter, Verdict
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
    v = Verdict("01.x", False, expected="3", got="4", nudge="Round up.")
    bundle = v._repr_mimebundle_()
    assert "Expected: 3" in bundle["text/plain"] and "Nudge:    Round up." in bundle["text/plain"]
    assert bundle["application/vnd.coursekit.verdict+json"] == {"exercise": "01.x", "passed": False}


def test_a_check_never_raises_and_records_progress(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_PROGRESS_FILE", str(tmp_path / "p.json"))
    chapter = Chapter("09", "Demo")

    @chapter.exercise("boom", "A check whose learner object explodes", needs=["thing"])
    async def check(ctx, thing):
        return thing.missing_attribute

    verdict = asyncio.run(chapter.check("boom", thing=object()))
    assert not verdict.passed and "AttributeError" in verdict.got
    assert progress.load()["09.boom"]["attempts"] == 1


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


def test_guard_stops_waiting_for_an_endless_loop():
    def forever():
        while True:
            pass

    started = time.perf_counter()
    outcome = asyncio.run(run_guarded(forever, timeout=0.5))
    assert outcome.timed_out and time.perf_counter() - started < 3


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

    with pytest.raises(Fail) as caught:
        asyncio.run(Context(chapter.exercises["x"]).call(forgot_await))
    assert "never awaited" in caught.value.got


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
    assert 0.28 <= t.seconds < 1.0  # three waves of 0.1 s
    assert sum(s.waited > 0.05 for s in server.served) >= 3
