"""Progress is per learner, survives concurrent writers, and never breaks a check."""
import asyncio
import json
import os
import subprocess
import sys
import textwrap

from coursekit import progress
from coursekit.exercises import Chapter

WRITES = 300  # per process

# One writer process: WRITES writes, alternately an attempt on an exercise every writer shares
# and a hint on an exercise of its own (the hint tier grows, so a lost update shows).
WRITER = textwrap.dedent("""
    import sys
    from coursekit import progress
    name = sys.argv[1]
    for i in range(int(sys.argv[2]) // 2):
        progress.record("99.shared", passed=(i == 0 and name == "a"))
        progress.record_hint(f"99.{name}", i + 1)
""")


def start_writers(names, env):
    return [subprocess.Popen([sys.executable, "-c", WRITER, name, str(WRITES)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name in names]


def finish(writers):
    for writer in writers:
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0 and out == "" and err == "", (writer.returncode, out, err)


def learner_env(home, **extra):
    env = {k: v for k, v in os.environ.items() if k not in ("COURSEKIT_PROGRESS_FILE", "XDG_DATA_HOME")}
    return {**env, "HOME": str(home), **extra}


def test_concurrent_writers_lose_no_update(tmp_path):
    path = tmp_path / "progress.json"
    finish(start_writers(["a", "b"], learner_env(tmp_path, COURSEKIT_PROGRESS_FILE=str(path))))
    data = json.loads(path.read_text())
    assert data["99.shared"]["attempts"] == WRITES and data["99.shared"]["passed"]
    assert [data[f"99.{n}"]["hints"] for n in "ab"] == [WRITES // 2] * 2
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers == ["progress.json", "progress.json.lock"]  # no temporary file left behind


def test_two_learners_keep_separate_progress(tmp_path):
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    writers = start_writers(["a", "b"], learner_env(alice)) + start_writers(["c", "d"], learner_env(bob))
    finish(writers)
    for home, own, other in [(alice, "ab", "cd"), (bob, "cd", "ab")]:
        data = json.loads((home / ".local/share/async-django-course/progress.json").read_text())
        assert data["99.shared"]["attempts"] == WRITES
        assert all(data[f"99.{n}"]["hints"] == WRITES // 2 for n in own)
        assert not any(f"99.{n}" in data for n in other)


def test_the_data_folder_follows_xdg_data_home(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSEKIT_PROGRESS_FILE")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert progress.progress_file() == tmp_path / "data" / "async-django-course" / "progress.json"


def test_an_unwritable_location_never_breaks_a_check(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the progress folder should be")  # fails for root too
    path = blocker / "progress.json"
    monkeypatch.setenv("COURSEKIT_PROGRESS_FILE", str(path))
    monkeypatch.setattr(progress, "_warned", set())
    chapter = Chapter("94", "Demo")

    @chapter.exercise("x", "X", needs=["answer"], hints=["first", "second"])
    async def check(ctx, answer):
        return "fine"

    session = chapter.session()
    first = asyncio.run(session.check("x", answer=1))
    second = asyncio.run(session.check("x", answer=1))
    session.hint("x")
    assert first.passed and second.passed
    assert progress.load() == {} and progress.hints_seen("94.x") == 0
    out = capsys.readouterr().out
    assert out.count(f"Progress could not be saved to {path} (") == 1, out  # said once, plainly
    assert "); your checks still work.\n" in out
    assert "Hint 1 of 2" in out


def test_an_unreadable_record_is_kept_aside_not_overwritten(tmp_path, monkeypatch, capsys):
    path = tmp_path / "progress.json"
    path.write_text("{ half a record")
    monkeypatch.setenv("COURSEKIT_PROGRESS_FILE", str(path))
    progress.record("01.x", True)
    assert json.loads(path.read_text())["01.x"]["passed"]
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("progress.json.unreadable-")]
    assert len(aside) == 1 and aside[0].read_text() == "{ half a record"
    assert "could not be read" in capsys.readouterr().out


def test_progress_from_the_old_shared_file_carries_over_once(tmp_path, monkeypatch):
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"01.x": {"passed": True, "attempts": 2, "hints": 1}}))
    monkeypatch.setattr(progress, "OLD_FILE", old)
    monkeypatch.delenv("COURSEKIT_PROGRESS_FILE")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert progress.load()["01.x"]["passed"]
    progress.record("01.y", False)
    old.write_text("{}")  # from now on the learner's own file is the record
    data = progress.load()
    assert data["01.x"]["attempts"] == 2 and data["01.y"]["attempts"] == 1


def test_the_report_says_where_progress_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_PROGRESS_FILE", str(tmp_path / "p.json"))
    chapter = Chapter("93", "A title long enough to have been cut short before")
    chapter.exercise("a", "An exercise title that is also rather long, and must show whole")(lambda ctx: None)
    report = progress.report([chapter])
    assert "An exercise title that is also rather long, and must show whole" in report
    assert report.endswith(f"(Kept in {tmp_path / 'p.json'}.)")


# Predictions share the record with exercises: one writer commits and reveals predictions while
# another records attempts; neither loses the other's updates.
PREDICTOR = textwrap.dedent("""
    import sys
    from coursekit import progress
    for i in range(int(sys.argv[1])):
        progress.record_prediction(f"question {i}", "b")
        progress.record_outcome(f"question {i}", "b", "b" if i % 3 else "a")
""")


def test_predictions_and_attempts_recorded_at_once_lose_nothing(tmp_path):
    path = tmp_path / "progress.json"
    env = learner_env(tmp_path, COURSEKIT_PROGRESS_FILE=str(path))
    writers = start_writers(["a"], env)
    writers.append(subprocess.Popen([sys.executable, "-c", PREDICTOR, str(WRITES // 2)], env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    finish(writers)
    data = json.loads(path.read_text())
    assert data["99.shared"]["attempts"] == WRITES // 2 and data["99.a"]["hints"] == WRITES // 2
    predictions = data[progress.PREDICTIONS]
    assert len(predictions) == WRITES // 2
    assert sum(entry["held"] for entry in predictions.values()) == sum(1 for i in range(WRITES // 2) if i % 3)
    assert all(entry["predicted"] == "b" and entry["committed_at"] for entry in predictions.values())


def test_a_prediction_keeps_its_first_outcome(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_PROGRESS_FILE", str(tmp_path / "p.json"))
    progress.record_prediction("q", "a")
    progress.record_outcome("q", "a", "b")      # missed
    progress.record_prediction("q", "b")        # the answer is known now: changes nothing
    progress.record_outcome("q", "b", "b")
    entry = progress.load()[progress.PREDICTIONS]["q"]
    assert entry["held"] is False and entry["predicted"] == "a" and entry["answer"] == "b"
    assert progress.load().get("q") is None     # kept apart from the exercises' entries
