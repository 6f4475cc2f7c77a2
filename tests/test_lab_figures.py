"""scripts/lab-figures (chapter 09's figures) in a tiny grid: one design, one endpoint, one level, 1 s.

Real servers, real load: about 10 s each. What is asserted holds on a slow machine too: theory's
ceiling (no more than clients / latency), Little's law between throughput and latency, and a
lower bound far below theory.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "lab-figures"
TINY = ["--runs", "1", "--designs", "uvicorn-async", "--endpoints", "io", "--clients", "10"]


def our_servers(pids):
    """Which of these pids are still a lab server (a pid reused by something else does not count)."""
    left = []
    for pid in pids:
        try:
            process = psutil.Process(pid)
            if process.status() != psutil.STATUS_ZOMBIE and any(
                    word in " ".join(process.cmdline()) for word in ("uvicorn", "gunicorn", "coursekit.upstream")):
                left.append(pid)
        except psutil.NoSuchProcess:
            continue
    return left


def test_a_tiny_grid_gives_its_figures_beside_theory_and_the_machine_state(tmp_path):
    out, raw = tmp_path / "figures.md", tmp_path / "figures.json"
    done = subprocess.run([sys.executable, str(SCRIPT), *TINY, "--seconds", "1", "--out", str(out), "--json", str(raw)],
                          cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(raw.read_text())

    # The machine's state, with the run.
    (run,) = data["runs"]
    assert data["cpu_count"] == os.cpu_count()
    assert len(run["load_before"]) == len(run["load_after"]) == 3
    assert run["order"] == ["uvicorn, async view"]
    assert not our_servers(run["pids"])                       # every server stopped

    # One point, and what it says holds by theory, loaded machine or not.
    (point,) = data["points"]
    assert (point["design"], point["endpoint"], point["clients"]) == ("uvicorn, async view", "io", 10)
    theory = 10 / 0.1                                         # no pool: clients / latency
    assert point["theory"] == theory
    assert point["completed"] > 0 and point["errors"] == {}
    assert point["p50"] >= 0.1                                # every request waited the upstream's 0.1 s
    assert point["throughput"] <= 1.1 * theory                # no request beats the latency (Little's law)
    assert point["throughput"] >= theory / 5, point           # wide: a busy machine slows it, not five-fold
    # Little's law in the closed loop: 10 clients always have one request each in flight.
    in_flight = point["throughput"] * point["mean"]
    assert 0.6 * 10 <= in_flight <= 1.05 * 10, point
    assert point["threads"] >= 1 and point["memory"] > 10 * 2**20
    assert 0 <= point["client_cpu"] / point["seconds"] < 1 and point["others_cores"] >= 0
    assert set(data["findings"].values()) == {"not measured"}   # none of them can be judged on one design

    # The report: the command, the machine's table, one table row for the one point.
    text = out.read_text()
    assert text.startswith("# Performance lab: the figures\n")
    assert f"    .venv/bin/python scripts/lab-figures {' '.join(TINY)} --seconds 1" in text
    assert "| run | started (UTC) | took | load average before" in text
    loads = r"[\d.]+, [\d.]+, [\d.]+"
    assert re.search(rf"^\| 1 \| \d\d:\d\d:\d\d \| \d+ s \| {loads} \| {loads} \|", text, re.M)
    assert re.search(r"^Across the rows below, other processes used [\d.]+ of the \d+ cores .*; [01] of the 1 rows",
                     text, re.M)
    rows = [line for line in text.splitlines() if line.startswith("| uvicorn, async view |")]
    assert len(rows) == 1
    cells = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert len(cells) == 13 and cells[1:4] == ["10", f"{point['throughput']:.1f}", "100"]
    assert "## `/lab/io/`" in text and "## `/lab/cpu/`" not in text
    assert text.count(": not measured.**") == 5
    assert "This run also left out: the design gunicorn, 4 sync workers" in text


def test_ctrl_c_stops_every_server_and_writes_nothing(tmp_path):
    out = tmp_path / "figures.md"
    # SIGINT as a terminal's Ctrl+C sends it (a runner started in the background may ignore it: restore it).
    script = subprocess.Popen([sys.executable, str(SCRIPT), *TINY, "--seconds", "30", "--out", str(out)], cwd=ROOT,
                              stderr=subprocess.PIPE, text=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = script.stderr.readline()                       # "run 1/1: servers up (pids ...)"
        assert "servers up" in line, line + script.stderr.read()
        pids = [int(pid) for pid in re.search(r"pids ([\d ]+)", line).group(1).split()]
        tree = pids + [child.pid for pid in pids for child in psutil.Process(pid).children(recursive=True)]
        time.sleep(1.5)                                       # the load is running
        script.send_signal(signal.SIGINT)
        rest = script.stderr.read()
        assert script.wait(timeout=60) == 130, rest
    finally:
        if script.poll() is None:
            script.kill()
            script.wait()
    assert "every server stopped" in rest and not out.exists()
    assert not our_servers(tree)
