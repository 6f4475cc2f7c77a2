"""Predictions: Markdown questions, reveals decided by the demo, and a record of what held.
Verdicts and reveals need no emoji font."""
import json
import re
import textwrap
from pathlib import Path

import nbformat
import pytest

from coursekit import progress
from coursekit.exercises import VERDICT_MIME, Verdict
from coursekit.predict import Prediction, markdown_html, predict

ROOT = Path(__file__).resolve().parent.parent
EMOJI_MARKS = set("✅❌⏳")
OPTIONS = ["About 0.3 s (the slowest call)", "About 0.75 s (the sum)", "About 0.25 s (the average)"]


@pytest.fixture
def record(tmp_path, monkeypatch):
    """A progress file of its own; returns a function that reads it."""
    path = tmp_path / "progress.json"
    monkeypatch.setenv("COURSEKIT_PROGRESS_FILE", str(path))
    return lambda: json.loads(path.read_text()) if path.exists() else {}


def committed(question, choice):
    p = predict(question, OPTIONS)
    p.commit(choice)
    return p


# --- the question -----------------------------------------------------------------------
def test_the_question_renders_its_markdown_safely():
    p = predict("Does `City.objects.count()` **block**? See [the docs](https://docs.djangoproject.com/) "
                "<script>alert(1)</script> [x](javascript:alert(2))", ["`yes`", "no"])
    page = p._repr_mimebundle_()["text/html"]
    assert "<code>City.objects.count()</code>" in page and "<strong>block</strong>" in page
    assert 'href="https://docs.djangoproject.com/"' in page and "<li>(a) <code>yes</code></li>" in page
    assert "<script>" not in page and "&lt;script&gt;" in page and "javascript:" not in page
    # The text fallback stays as written: Markdown reads well as text.
    assert p.text().startswith("Predict: Does `City.objects.count()` **block**?")
    assert "Commit to an answer (write it down), then run the next cell." in p.text()


def test_the_widget_shows_the_rendered_question_and_plain_labels():
    p = predict("Is `aget` **async**?", ["`aget` runs SQL on the loop", "on another thread"])
    question, picker, _ = p.widget().children
    assert question.value == "<b>Predict:</b> Is <code>aget</code> <strong>async</strong>?"
    assert [label for label, _ in picker.options] == ["(a) aget runs SQL on the loop", "(b) on another thread"]
    assert markdown_html("a <b>b</b>") == "a &lt;b&gt;b&lt;/b&gt;"


def test_options_must_differ_and_be_two_or_more():
    with pytest.raises(ValueError):
        Prediction("?", ["only one"])
    with pytest.raises(ValueError):
        Prediction("?", ["same", "same"])


# --- the reveal ---------------------------------------------------------------------------
def test_a_reveal_names_an_option_by_its_start_or_by_a_test(record, capsys):
    p = predict("How long?", OPTIONS)
    p.reveal("About 0.75")
    assert p.answer == OPTIONS[1]
    measured = 0.78
    p.reveal(lambda option: abs(float(option.split()[1]) - measured) < 0.1)
    assert p.answer == OPTIONS[1]
    with pytest.raises(ValueError, match="matches 3 of the options"):
        p.reveal("About")
    with pytest.raises(ValueError, match="matches 0 of the options"):
        p.reveal("2 s")
    with pytest.raises(ValueError, match="matches 0"):
        p.reveal(lambda option: False)


def test_with_nothing_committed_the_reveal_says_the_answer_and_records_nothing(record, capsys):
    p = predict("How long does the dashboard take?", OPTIONS)
    p.reveal("About 0.75 s")
    shown = capsys.readouterr().out
    assert shown == "ANSWER · The demo showed (b) About 0.75 s (the sum). (No prediction was committed above.)\n"
    assert p.held is None and record() == {}


def test_a_prediction_that_held_is_recorded_and_shown(record, capsys):
    p = committed("How long does the dashboard take?", OPTIONS[1])
    assert record()["predictions"]["How long does the dashboard take?"]["predicted"] == OPTIONS[1]
    p.reveal("About 0.75 s")
    assert capsys.readouterr().out.startswith("HELD · You predicted (b) About 0.75 s (the sum)")
    entry = record()["predictions"]["How long does the dashboard take?"]
    assert entry["held"] is True and entry["answer"] == OPTIONS[1] and entry["predicted"] == OPTIONS[1]
    assert p.held is True


def test_a_missed_prediction_keeps_its_first_outcome(record, capsys):
    p = committed("How long?", OPTIONS[0])
    p.reveal("About 0.75 s")
    assert capsys.readouterr().out.startswith("MISSED · You predicted (a) About 0.3 s (the slowest call); "
                                              "the demo showed (b) About 0.75 s (the sum).")
    # The same question again (a restarted kernel): knowing the answer now changes nothing on record.
    again = committed("How long?", OPTIONS[1])
    again.reveal("About 0.75 s")
    entry = record()["predictions"]["How long?"]
    assert entry["held"] is False and entry["predicted"] == OPTIONS[0]


def test_a_commit_after_the_answer_was_shown_does_not_count(record, capsys):
    p = predict("How long?", OPTIONS)
    p.reveal("About 0.75 s")
    p.commit(OPTIONS[1])
    p.reveal("About 0.75 s")
    assert "(Committed after the answer was shown: not counted.)" in capsys.readouterr().out
    assert p.held is None and record() == {}


def test_one_commit_per_question():
    p = predict("How long?", OPTIONS)
    p.commit(OPTIONS[0])
    p.commit(OPTIONS[1])
    assert p.choice == OPTIONS[0]
    with pytest.raises(ValueError):
        predict("How long?", OPTIONS).commit("2 s")


def test_the_widget_tells_the_learner_how_it_went(record):
    p = predict("How long?", OPTIONS)
    _, picker, row = p.widget().children
    button, status = row.children
    assert button.disabled
    picker.value = OPTIONS[1]
    assert not button.disabled
    button.click()
    assert status.value.startswith("Locked in: <b>(b) About 0.75 s (the sum)</b>") and picker.disabled
    p.reveal("About 0.75 s")
    assert "It held." in status.value and "<svg" in status.value
    assert not EMOJI_MARKS & set(status.value)
    assert record()["predictions"]["How long?"]["held"] is True


def test_an_unwritable_progress_file_never_breaks_a_prediction(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the progress folder should be")
    monkeypatch.setenv("COURSEKIT_PROGRESS_FILE", str(blocker / "progress.json"))
    monkeypatch.setattr(progress, "_warned", set())
    p = committed("How long?", OPTIONS[1])
    p.reveal("About 0.75 s")
    out = capsys.readouterr().out
    assert out.count("could not be saved") == 1 and "HELD · " in out and p.held is True


# --- in a kernel: shown once, whether kept in a name or not ------------------------------
def test_in_a_kernel_a_prediction_shows_once_and_its_reveal_below_the_demo(tmp_path):
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(source).strip()) for source in [
        'import coursekit\ncoursekit.predict("Old style: `last line`?", ["yes", "no"])',
        'kept = coursekit.predict("Kept in a name?", ["yes", "no"])',
        'kept',
        'print("measured"); kept.reveal("no"); 1 + 1',
    ]]
    NotebookClient(nb, timeout=60, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    shown = [[o.get("data", {}).get("text/plain", o.get("text")) for o in cell.outputs] for cell in nb.cells]
    assert [len(outputs) for outputs in shown] == [1, 1, 1, 3]
    assert shown[0][0].startswith("Predict: Old style") and shown[1][0].startswith("Predict: Kept in a name?")
    assert shown[2] == shown[1]  # asked for again in a later cell: shown again
    assert shown[3] == ["measured\n", "ANSWER · The demo showed (b) no. (No prediction was committed above.)", "2"]
    assert "application/vnd.jupyter.widget-view+json" in nb.cells[1].outputs[0]["data"]


# --- make progress: predictions held per chapter -----------------------------------------
def test_a_lesson_counts_every_prediction_it_asks_even_an_f_string():
    asked = progress.lesson_questions("04")
    lesson = (ROOT / "notebooks" / "04-middleware.ipynb").read_text()
    assert len(asked) == lesson.count("coursekit.predict(") >= 5
    runtime = ("The sandbox's default stack (7 Django middlewares, all hybrid: no adaptation logged) in front of an "
               "async view, under ASGI. How many thread hops does one request make?")
    assert sum(match(runtime) for match in asked) == 1
    assert progress.lesson_questions("77") == []


def test_progress_shows_predictions_held_per_chapter(record, capsys):
    class Lesson01:
        number, title, exercises = "01", "Sync Django, request by request", {}

    asked = progress.lesson_questions("01")
    question = "weather 0.2 s, flights 0.3 s, hotels 0.25 s. How long does /dashboard/lisbon/ take?"
    assert sum(match(question) for match in asked) == 1
    committed(question, OPTIONS[1]).reveal("About 0.75 s")
    committed("A question no lesson asks", OPTIONS[1]).reveal("About 0.75 s")
    report = progress.report([Lesson01])
    assert f"  predictions held: 1 of {len(asked)}" in report
    assert f"1 of {len(asked)} predictions held." in report
    assert not EMOJI_MARKS & set(report)


# --- marks that need no emoji font --------------------------------------------------------
@pytest.mark.parametrize("passed, word, kind", [(True, "PASSED", "pass"), (False, "NOT YET", "fail"),
                                                (None, "NOT JUDGED", "busy")])
def test_verdicts_lead_with_a_word_and_draw_their_mark(passed, word, kind):
    verdict = Verdict("03.trip-summary", passed, message="Well done." if passed else "", expected="1 s",
                      got="2 s", nudge="Gather them.", nudge_id="ch03.W001")
    text = verdict.text()
    assert text.startswith(f"{word} · 03.trip-summary") and not EMOJI_MARKS & set(text)
    bundle = verdict._repr_mimebundle_()
    page = bundle["text/html"]
    assert f'<svg class="ck-verdict-mark ck-verdict-{kind}"' in page and f"<b>{word}</b> · 03.trip-summary" in page
    assert not EMOJI_MARKS & set(page)
    assert bundle[VERDICT_MIME] == {"exercise": "03.trip-summary", "passed": passed, "nudge": "ch03.W001"}
    assert bundle["text/plain"] == text


def test_no_stored_output_shows_an_emoji_mark():
    found = []
    for path in sorted(ROOT.glob("*/[0-9][0-9]-*.ipynb")):
        if path.parent.name not in ("notebooks", "exercises", "solutions"):
            continue
        for cell in nbformat.read(path, as_version=4).cells:
            for output in cell.get("outputs", []):
                texts = [output.get("text", "")] + [v for v in output.get("data", {}).values() if isinstance(v, str)]
                if any(EMOJI_MARKS & set(t) for t in texts):
                    found.append(f"{path.relative_to(ROOT)} cell {cell.get('id')}")
    assert found == [], "re-execute these with `python -m coursekit execute`:\n" + "\n".join(found)


def test_every_lesson_reveals_the_answers_it_asks_for():
    """Each prediction kept in a name is revealed later in its lesson (or it was never checked)."""
    missing = []
    for path in sorted((ROOT / "notebooks").glob("0[0-9]-*.ipynb")):
        source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        names = re.findall(r"^(\w+) = coursekit\.predict\(", source, re.M)
        assert len(names) == source.count("coursekit.predict("), f"{path.name}: a prediction without a name"
        missing += [f"{path.name}: {name}" for name in names if f"{name}.reveal(" not in source]
    assert missing == []
