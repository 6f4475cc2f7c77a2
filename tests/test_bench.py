"""The performance lab's toolkit (chapter 09): bench, the process-tree sampler, theory lines, plots.

Fast tests only: a subprocess that sleeps, the upstream API for a fraction of a second.
"""
import asyncio
import os
import subprocess
import sys

import pytest

from coursekit import lab
from coursekit.bench import Bench, Point, TreeSampler, bench, measure, own_cpu, tree_snapshot
from coursekit.upstream import Upstream

# A child that starts a grandchild and 5 threads, then sleeps: a small "server" tree.
TREE = r"""
import subprocess, sys, threading, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
for _ in range(5):
    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
print("ready", flush=True)
try:
    time.sleep(30)
finally:
    child.kill()
"""


@pytest.fixture
def tree():
    process = subprocess.Popen([sys.executable, "-c", TREE], stdout=subprocess.PIPE, text=True,
                               start_new_session=True)
    assert process.stdout.readline().strip() == "ready"
    try:
        yield process.pid
    finally:
        os.killpg(process.pid, 9)
        process.wait()


def test_tree_snapshot_counts_every_process_and_thread(tree):
    threads, rss, cpu, processes = tree_snapshot(tree)
    assert processes == 2                      # the child and its grandchild
    assert threads == 1 + 5 + 1                # main + 5 sleepers, and the grandchild's one
    assert rss > 5 * 2**20 and cpu >= 0
    assert tree_snapshot(999_999_999) == (0, 0, 0.0, 0)   # gone: nothing, no error


def test_tree_sampler_samples_while_a_block_runs(tree):
    async def main():
        async with TreeSampler(tree, interval=0.01) as sampler:
            await asyncio.sleep(0.1)
        return sampler

    sampler = asyncio.run(main())
    assert len(sampler.samples) >= 3 and sampler.peak_threads == 7 and sampler.processes == 2
    assert sampler.peak_memory > 0 and sampler.cpu >= 0
    assert own_cpu() > 0


def test_point_percentiles_and_cpu_per_request():
    point = Point(10, 40.0, latencies=[0.1, 0.2, 0.3, 0.4], seconds=1.0, server_cpu=0.2, processes=1)
    assert (point.p(50), point.p(99), point.completed) == (0.2, 0.4, 4)
    assert point.cpu_per_request == pytest.approx(0.05)
    assert Point(1, 0.0).p(50) != Point(1, 0.0).p(50)     # nan without requests


def test_bench_table_rows_and_lookup():
    points = [Point(10, 80.0, [0.12] * 80, seconds=1.0, threads=11, memory=60 * 2**20, processes=1, server_cpu=0.4),
              Point(50, 200.0, [0.25] * 200, {"HTTP 500": 1}, seconds=1.0)]
    table = Bench("uvicorn", "http://x/", points)
    assert table[50] is points[1] and table.clients == [10, 50]
    rows = table.rows()
    assert rows[0] == {"clients": 10, "req/s": 80.0, "p50 ms": 120, "p99 ms": 120, "errors": 0, "threads": 11,
                       "memory MB": 60, "CPU ms/req": 5.0, "% of a core": 40}
    assert "threads" not in rows[1] and rows[1]["errors"] == 1     # no server sampled: no server columns
    assert repr(table).splitlines()[0] == "uvicorn"
    with pytest.raises(KeyError):
        table[7]


def test_bench_measures_a_real_endpoint_with_its_server_process():
    async def main():
        from coursekit.servers import ServerProcess

        api = await Upstream(latency=0.02).start()
        try:
            table = await bench(api.url + "/weather/oslo", clients=(1, 4), seconds=0.3, warmup=0.1)
        finally:
            await api.stop()
        async with ServerProcess(["{python}", "-m", "coursekit.upstream", "--port", "{port}", "--latency", "0.02"],
                                 probe="/", name="upstream") as server:
            point = await measure(server.url + "/weather/oslo", 4, seconds=0.3, server=server)
        return table, point

    table, point = asyncio.run(main())
    low, high = table[1], table[4]
    assert not low.errors and not high.errors
    assert low.throughput <= 1.1 / 0.02 and high.throughput <= 1.1 * 4 / 0.02     # theory's ceilings
    assert high.throughput > low.throughput and low.p(50) >= 0.02
    assert point.threads >= 1 and point.memory > 0 and point.processes == 1 and point.completed > 0


def test_theory_lines():
    assert lab.pool_theory(4, 0.1)(2) == pytest.approx(20) and lab.pool_theory(4, 0.1)(200) == pytest.approx(40)
    assert lab.async_theory(0.1)(200) == pytest.approx(2000) and lab.flat(50)(7) == 50


def test_gunicorn_base_command_binds_locally_without_a_control_socket():
    assert "127.0.0.1:{port}" in lab.GUNICORN and "--no-control-socket" in lab.GUNICORN
    assert lab.UVICORN[lab.UVICORN.index("--host") + 1] == "127.0.0.1"
    assert (lab.sandbox_dir() / "manage.py").exists()


def test_sweep_and_bars_draw_without_a_display():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from coursekit import plots

    plt.close("all")  # figures another test in this worker left open are not ours to judge
    table = Bench("pool", "u", [Point(n, min(n, 4) / 0.1, [0.1 * max(1, n / 4)] * 5, seconds=1.0, threads=5,
                                      memory=2**27, processes=5) for n in (1, 4, 16)])
    fig = plots.sweep({"pool": table}, theory={"pool": lab.pool_theory(4, 0.1)}, latency=0.1,
                      ceilings={"pool": 45}, show=False)
    assert len(fig.axes) == 5
    assert plots.png(fig)[:8] == b"\x89PNG\r\n\x1a\n" and len(plots.png(fig)) < 48_000   # small
    plt.close(fig)
    assert plots.sweep({"pool": table}) is None and plots.bars({"a": 10.0}, title="t", unit="u") is None
    assert not plt.get_fignums()                     # shown (or not: no IPython here) and closed
    fig = plots.bars({"a": 10.0, "b": 20.0}, title="t", unit="requests/s", ceiling=50, show=False)
    assert len(fig.axes[0].patches) == 2
    plt.close("all")


def test_a_table_of_named_points():
    from coursekit.bench import table

    text = table({"gunicorn": Point(8, 11.0, [0.7] * 11, seconds=1.0),
                  "uvicorn, async view": Point(8, 12.5, [0.6] * 12, seconds=1.0, threads=12, memory=2**26,
                                               processes=1, server_cpu=0.35)}, "cpu")
    lines = text.splitlines()
    assert lines[0] == "cpu" and lines[1].startswith("design               clients")
    assert lines[2].startswith("gunicorn ") and lines[3].split()[-4:] == ["12", "64", "29.2", "35"]


def test_a_lab_server_dies_with_the_process_that_started_it(tmp_path):
    """The kernel is killed (no shutdown, no atexit): its lab servers stop too."""
    script = tmp_path / "kernel.py"
    script.write_text(
        "import asyncio, os, time\n"
        "from coursekit.lab import LabServer\n"
        "async def main():\n"
        "    server = await LabServer(['{python}', '-m', 'coursekit.upstream', '--port', '{port}'], probe='/',\n"
        "                             name='upstream').start()\n"
        "    print(server.process.pid, flush=True)\n"
        "    time.sleep(60)\n"
        "asyncio.run(main())\n")
    kernel = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    server_pid = int(kernel.stdout.readline())
    assert open(f"/proc/{server_pid}/cmdline").read().split("\0")[1:3] == ["-m", "coursekit.upstream"]
    kernel.kill()
    kernel.wait()
    for _ in range(100):
        if not os.path.exists(f"/proc/{server_pid}") or open(f"/proc/{server_pid}/stat").read().split()[2] == "Z":
            break
        import time

        time.sleep(0.05)
    else:
        os.kill(server_pid, 9)
        raise AssertionError("the server outlived the process that started it")
