"""Which exercises you have passed, kept in a small JSON file of your own.

The file lives in your own data folder, `$XDG_DATA_HOME/async-django-course/progress.json`
(`~/.local/share/async-django-course/progress.json` by default), so every learner on a shared
machine or hub has their own; COURSEKIT_PROGRESS_FILE points it elsewhere (tests and
`coursekit execute` do). `make progress` or `coursekit.show_progress()` prints it.

Predictions (coursekit.predict) are kept there too, under "predictions", by question: what you
committed to, and, once a demo revealed the answer, which option that was and whether yours held.

Several kernels of one learner may record at the same moment: every change is a read-modify-write
under an exclusive lock (a `.lock` file beside the record), and the new record replaces the old one
in one step (a temporary file in the same folder, then os.replace), so no update is lost and a
reader never sees half a file. Saving is a courtesy: when it fails, a check still gives its verdict,
and the kernel says once why progress could not be saved.
"""
import ast
import contextlib
import datetime
import json
import os
import re
import tempfile
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock. The atomic replace still keeps the file whole.
    fcntl = None

ROOT = Path(__file__).resolve().parent.parent
# Where progress was kept before it moved to the learner's data folder: read once, then left alone.
OLD_FILE = ROOT / ".progress.json"

_warned = set()  # the paths this process has already complained about
PREDICTIONS = "predictions"  # the record's key for predictions (exercise ids look like "01.slug")


def progress_file():
    if os.environ.get("COURSEKIT_PROGRESS_FILE"):
        return Path(os.environ["COURSEKIT_PROGRESS_FILE"]).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "async-django-course" / "progress.json"


def load():
    path = progress_file()
    try:
        return _read(path)
    except OSError as error:
        _say_once(path, f"Progress could not be read from {path}", error)
        return {}


def record(exercise_id, passed, hints=None):
    def change(data):
        entry = data.setdefault(exercise_id, {"passed": False, "attempts": 0, "hints": 0})
        entry["attempts"] += 1
        entry["last_attempt"] = datetime.datetime.now().isoformat(timespec="seconds")
        if passed and not entry["passed"]:
            entry["passed"] = True
            entry["passed_at"] = entry["last_attempt"]
        if hints is not None:
            entry["hints"] = max(entry.get("hints", 0), hints)
        return entry

    return _update(change)


def hints_seen(exercise_id):
    return load().get(exercise_id, {}).get("hints", 0)


def record_hint(exercise_id, tier):
    def change(data):
        entry = data.setdefault(exercise_id, {"passed": False, "attempts": 0, "hints": 0})
        entry["hints"] = max(entry.get("hints", 0), tier)
        return entry

    _update(change)


def record_prediction(question, choice):
    """A prediction committed before its demo. Once a demo judged it, later commits change nothing."""
    def change(data):
        entry = data.setdefault(PREDICTIONS, {}).setdefault(question, {})
        if "held" not in entry:
            entry.update(predicted=choice, committed_at=_now())
        return entry

    return _update(change)


def record_outcome(question, choice, answer):
    """The demo's answer to a committed prediction. Only the first outcome counts."""
    def change(data):
        entry = data.setdefault(PREDICTIONS, {}).setdefault(question, {})
        if "held" not in entry:
            entry.update(predicted=choice, answer=answer, held=choice == answer, revealed_at=_now())
        return entry

    return _update(change)


def _now():
    return datetime.datetime.now().isoformat(timespec="seconds")


def _update(change):
    """Apply `change` to the record under the lock and save it. Never raises for a file problem."""
    path = progress_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(path):
            data = _read(path)
            result = change(data)
            _replace(path, data)
        return result
    except OSError as error:
        _say_once(path, f"Progress could not be saved to {path}", error)
        return change({})  # the caller still gets the entry this attempt would have made


def _read(path):
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {} if os.environ.get("COURSEKIT_PROGRESS_FILE") else _read_old_file()
    try:
        data = json.loads(text)
        if isinstance(data, dict):
            return data
    except json.JSONDecodeError:
        pass
    # Unreadable (edited by hand?): keep it beside the record rather than overwrite it.
    aside = path.with_name(f"{path.name}.unreadable-{datetime.datetime.now():%Y%m%d-%H%M%S}")
    os.replace(path, aside)
    print(f"Your progress file {path} could not be read; it was moved to {aside.name} and a new one started.")
    return {}


def _read_old_file():
    try:
        data = json.loads(OLD_FILE.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, json.JSONDecodeError):
        return {}


@contextlib.contextmanager
def _locked(path):
    if fcntl is None:
        yield
        return
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _replace(path, data):
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=1, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _say_once(path, what, error):
    if path in _warned:
        return
    _warned.add(path)
    print(f"{what} ({error.strerror or error}); your checks still work.")


def report(chapters):
    """A plain-text table: every exercise of the given chapters and where you stand."""
    data = load()
    predictions = data.get(PREDICTIONS, {})
    lines = []
    total = passed = predictions_total = predictions_held = 0
    width = max((len(e.title) for c in chapters for e in c.exercises.values()), default=10)
    id_width = max((len(e.id) for c in chapters for e in c.exercises.values()), default=10)
    for chapter in chapters:
        lines.append(f"{chapter.number} {chapter.title}")
        for exercise in chapter.exercises.values():
            entry = data.get(exercise.id, {})
            mark = "✓" if entry.get("passed") else ("…" if entry.get("attempts") else "·")
            attempts, hints = entry.get("attempts", 0), entry.get("hints", 0)
            detail = f"{attempts} {'try' if attempts == 1 else 'tries'}" if attempts else "not tried"
            if hints:
                detail += f", {hints} {'hint' if hints == 1 else 'hints'}"
            lines.append(f"  {mark} {exercise.id:<{id_width}}  {exercise.title:<{width}}  {detail}")
            total += 1
            passed += bool(entry.get("passed"))
        asked = lesson_questions(chapter.number)
        if asked:
            held = sum(any(match(q) and e.get("held") for q, e in predictions.items()) for match in asked)
            lines.append(f"  predictions held: {held} of {len(asked)}")
            predictions_total += len(asked)
            predictions_held += held
    lines.append(f"{passed} of {total} exercises passed.")
    if predictions_total:
        lines.append(f"{predictions_held} of {predictions_total} predictions held.")
    lines.append(f"(Kept in {progress_file()}.)")
    return "\n".join(lines)


def lesson_questions(number):
    """The questions a chapter's lesson asks with predict(), as matchers of a recorded question.

    Read from the lesson's source, so that a chapter counts every prediction it asks, answered or
    not. An f-string question matches whatever its {fields} became.
    """
    lessons = sorted((ROOT / "notebooks").glob(f"{number}-*.ipynb"))
    if not lessons:
        return []
    try:
        cells = json.loads(lessons[0].read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return []
    found = []
    for cell in cells:
        source = "".join(cell.get("source", ""))
        if cell.get("cell_type") != "code" or "predict(" not in source:
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and node.args
                    and getattr(node.func, "attr", getattr(node.func, "id", None)) == "predict"):
                found.append(_matcher(node.args[0]))
    return found


def _matcher(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.__eq__
    if isinstance(node, ast.JoinedStr):
        pattern = "".join(re.escape(part.value) if isinstance(part, ast.Constant) else ".*?" for part in node.values)
        return lambda question: re.fullmatch(pattern, question, re.S) is not None
    return lambda question: False  # a question built at run time: counted, never matched
