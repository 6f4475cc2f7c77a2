"""Which exercises you have passed, kept in a small JSON file on your machine.

The file is `.progress.json` at the course's root (git ignores it), or wherever
COURSEKIT_PROGRESS_FILE points. `make progress` or `coursekit.show_progress()` prints it.
"""
import datetime
import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def progress_file():
    return Path(os.environ.get("COURSEKIT_PROGRESS_FILE") or ROOT / ".progress.json")


def load():
    try:
        return json.loads(progress_file().read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def record(exercise_id, passed, hints=None):
    data = load()
    entry = data.setdefault(exercise_id, {"passed": False, "attempts": 0, "hints": 0})
    entry["attempts"] += 1
    entry["last_attempt"] = datetime.datetime.now().isoformat(timespec="seconds")
    if passed and not entry["passed"]:
        entry["passed"] = True
        entry["passed_at"] = entry["last_attempt"]
    if hints is not None:
        entry["hints"] = max(entry.get("hints", 0), hints)
    _save(data)
    return entry


def hints_seen(exercise_id):
    return load().get(exercise_id, {}).get("hints", 0)


def record_hint(exercise_id, tier):
    data = load()
    entry = data.setdefault(exercise_id, {"passed": False, "attempts": 0, "hints": 0})
    entry["hints"] = max(entry.get("hints", 0), tier)
    _save(data)


def _save(data):
    path = progress_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(path)


def report(chapters):
    """A plain-text table: every exercise of the given chapters and where you stand."""
    data = load()
    lines = []
    total = passed = 0
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
    lines.append(f"{passed} of {total} exercises passed.")
    return "\n".join(lines)
