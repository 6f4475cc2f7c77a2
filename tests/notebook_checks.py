"""Checks on whole notebooks, beyond nbval's cell-by-cell comparison."""
import json
import os
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from coursekit.authoring import check_slug
from coursekit.exercises import VERDICT_MIME, chapter_module

ROOT = Path(__file__).resolve().parent.parent

# Run in the kernel after the notebook: what is still alive?
INSPECT = r'''
import json as _json, os as _os, threading as _threading
def _listening_ports():
    inodes = set()
    for fd in _os.listdir("/proc/self/fd"):
        try:
            target = _os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[3] == "0A" and parts[9] in inodes:  # 0A: LISTEN
                ports.append(int(parts[1].rsplit(":", 1)[1], 16))
    return ports
def _children():
    pid = str(_os.getpid())
    found = []
    for entry in _os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if stat.rsplit(")", 1)[1].split()[1] == pid:
                found.append(int(entry))
    return found
import asyncio as _asyncio
import coursekit.cleanup as _cleanup, coursekit.upstream as _upstream
def _tasks():
    mine = _asyncio.current_task()
    names = []
    for task in _asyncio.all_tasks():
        if task is mine:
            continue
        coro = task.get_coro()
        names.append(getattr(coro, "__qualname__", type(coro).__name__) + " @ " + (getattr(getattr(coro, "cr_code", None), "co_filename", "") or ""))
    return sorted(names)
print(_json.dumps({
    "pid": _os.getpid(),
    "threads": sorted(t.name for t in _threading.enumerate()),
    "ports": _listening_ports(),
    "children": _children(),
    "tasks": _tasks(),
    "registered": _cleanup.pending(),
    "upstream": _upstream.current() is not None,
}))
'''

# Threads a kernel keeps between cells whatever a notebook does: ipykernel's own, and the
# idle worker pools of asyncio (to_thread) and asgiref (sync_to_async). Unnamed threads
# ("Thread-3") are not allowed: whatever a notebook starts must end or be named here.
ALLOWED_THREAD_PREFIXES = ("MainThread", "Control", "IOPub", "Shell", "Heartbeat",
                           "ThreadPoolExecutor-", "asyncio_", "IPythonHistorySavingThread", "ipykernel")


def _client(nb, path):
    return NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                          resources={"metadata": {"path": str(Path(path).parent)}})


def _errors(cell):
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


def run_twice_and_inspect(path):
    """Run a lesson twice in one kernel; return (errors per run, the leak report, pid)."""
    nb = nbformat.read(path, as_version=4)
    client = _client(nb, path)
    problems = []
    def inspect():
        # nbclient writes a cell's outputs back into nb.cells[index]: give it a slot.
        cell = nbformat.v4.new_code_cell(INSPECT)
        nb.cells.append(cell)
        try:
            client.execute_cell(cell, len(nb.cells) - 1)
        finally:
            nb.cells.pop()
        # Under load the print can arrive in pieces (the text, then its newline): join the stream.
        return json.loads("".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream"))

    with client.setup_kernel():
        baseline = inspect()
        for run in (1, 2):
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                cell.outputs = []
                client.execute_cell(cell, index)
                for error in _errors(cell):
                    problems.append(f"run {run}, cell {index}: {error.ename}: {error.evalue}")
        after = inspect()
    new_threads = sorted(set(after["threads"]) - set(baseline["threads"]))
    leaked_threads = [t for t in new_threads if not t.startswith(ALLOWED_THREAD_PREFIXES)]
    if leaked_threads:
        problems.append(f"threads still running: {leaked_threads}")
    if set(after["ports"]) - set(baseline["ports"]):
        problems.append(f"ports still listening: {sorted(set(after['ports']) - set(baseline['ports']))}")
    if after["children"]:
        problems.append(f"child processes still running: {after['children']}")
    if after["registered"] or after["upstream"]:
        problems.append(f"started and not stopped: {after['registered'] or ['the upstream API']}")
    new_tasks = sorted(set(after["tasks"]) - set(baseline["tasks"]))
    if new_tasks:
        problems.append(f"asyncio tasks still pending on the kernel's loop: {new_tasks}")
    leftovers = list(Path(tempfile.gettempdir()).glob(f"coursekit-{after['pid']}-*"))
    if leftovers:
        problems.append(f"temporary files left behind: {leftovers}")
    return problems


def verdicts(nb):
    """(cell index, verdict dict) for every check result stored in a notebook's outputs."""
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if VERDICT_MIME in data:
                found.append((index, data[VERDICT_MIME]))
    return found


def chapter_of(path):
    return chapter_module(Path(path).name.split("-", 1)[0]).chapter


def exercise_fails_every_check(exercise_path):
    """Run a shipped exercise notebook as a learner who wrote nothing would."""
    nb = nbformat.read(exercise_path, as_version=4)
    _client(nb, exercise_path).execute()
    chapter = chapter_of(exercise_path)
    problems = []
    slugs = sorted(check_slug(cell) for cell in nb.cells if check_slug(cell))
    if slugs != sorted(chapter.exercises):
        problems.append(f"check cells cover {slugs}, the chapter has {sorted(chapter.exercises)}")
    found = verdicts(nb)
    if sorted(v["exercise"] for _, v in found) != sorted(f"{chapter.number}.{slug}" for slug in slugs):
        problems.append(f"verdicts shown: {sorted(v['exercise'] for _, v in found)}")
    problems += [f"{v['exercise']} passes with the unsolved stub" for _, v in found if v["passed"]]
    problems += [f"{v['exercise']}: the stub was not judged (machine too busy?)" for _, v in found
                 if v["passed"] is None]
    for index, cell in enumerate(nb.cells):
        if check_slug(cell) and _errors(cell):
            problems.append(f"cell {index}: a check cell raised instead of giving a verdict")
    return problems


def solution_passes_every_check(solution_path):
    """The stored outputs of a solution notebook (nbval re-runs and compares them)."""
    nb = nbformat.read(solution_path, as_version=4)
    chapter = chapter_of(solution_path)
    found = verdicts(nb)
    problems = [f"{v['exercise']} fails in the solution" for _, v in found if not v["passed"]]
    missing = sorted({e.id for e in chapter.exercises.values()} - {v["exercise"] for _, v in found})
    if missing:
        problems.append(f"no passing check stored for {missing}")
    return problems
