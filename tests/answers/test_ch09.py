"""Wrong and right answers for chapter 09's exercises, with the nudge each must get."""
import pytest

from tests.answers.harness import PASS, Case, verdict_problem

CHAPTER = "09"

POOL = [
    Case("pool-size", "ch09.W007", """
def pool_command(rate, latency):
    return lab.GUNICORN + ["tripboard.wsgi:application", "--workers", "1", "--threads", str(int(rate * latency))]
""", "rounded down"),
    Case("pool-size", "ch09.W009", """
def pool_command(rate, latency):
    return lab.GUNICORN + ["tripboard.wsgi:application", "--threads", str(math.ceil(rate / latency))]
""", "rate / latency"),
    Case("pool-size", "ch09.W008", """
def pool_command(rate, latency):
    return lab.GUNICORN + ["tripboard.wsgi:application", "--threads", str(math.ceil(rate * latency / 2))]
""", "half the pool"),
    Case("pool-size", "ch09.W009", """
def pool_command(rate, latency):
    return lab.GUNICORN + ["tripboard.wsgi:application", "--workers", "1", "--threads", "16"]
""", "the lesson's 16 threads, whatever the rate"),
    Case("pool-size", "ch09.W001", """
def pool_command(rate, latency):
    return f"python -m gunicorn tripboard.wsgi:application -b 127.0.0.1:{{port}} --threads {math.ceil(rate * latency)}"
""", "one string"),
    Case("pool-size", "ch09.W001", """
def pool_command(rate, latency):
    return lab.GUNICORN + ["tripboard.wsgi:application", "--threads", math.ceil(rate * latency)]
""", "an int in the list"),
    Case("pool-size", "ch09.W004", """
def pool_command(rate, latency):
    return ["{python}", "-m", "gunicorn", "tripboard.wsgi:application", "--bind", "127.0.0.1:8000",
            "--threads", str(math.ceil(rate * latency))]
""", "a fixed port"),
    Case("pool-size", "ch09.W005", """
def pool_command(rate, latency):
    return lab.GUNICORN + ["tripboard.asgi:application", "--threads", str(math.ceil(rate * latency))]
""", "the ASGI application"),
    Case("pool-size", "ch09.W002", """
def pool_command(rate, latency):
    return lab.UVICORN + ["tripboard.asgi:application", "--limit-concurrency", str(math.ceil(rate * latency))]
""", "uvicorn"),
    Case("pool-size", "ch09.W002", """
def pool_command(rate, latency):
    return ["python", "-m", "gunicorn", "tripboard.wsgi:application", "-b", "127.0.0.1:{port}",
            "--threads", str(math.ceil(rate * latency))]
""", "python instead of {python}"),
    Case("pool-size", "ch09.W006", """
def pool_command(rate, latency):
    return lab.GUNICORN + ["tripboard.wsgi:application", "-k", "gevent", "--worker-connections",
                           str(math.ceil(rate * latency))]
""", "gevent workers"),
    Case("pool-size", "ch09.W003", """
def pool_command(rate, latency):
    return lab.GUNICORN + ["tripboard.wsgi:application", "--treads", str(math.ceil(rate * latency))]
""", "a misspelt option"),
    Case("pool-size", PASS, """
def pool_command(rate, latency):
    threads = -(-rate * latency // 1)
    return ["{python}", "-m", "gunicorn", "--bind=127.0.0.1:{port}", "-k", "gthread", "--workers=1",
            f"--threads={int(threads)}", "tripboard.wsgi:application"]
""", "= options, ceiling by floor division"),
    Case("pool-size", PASS, """
def pool_command(rate, latency):
    needed = math.ceil(rate * latency)
    workers = 2 if needed > 2 else 1
    return lab.GUNICORN + ["tripboard.wsgi:application", "-w", str(workers), "--threads",
                           str(math.ceil(needed / workers))]
""", "two processes with threads"),
    Case("pool-size", PASS, """
def pool_command(rate, latency):
    return lab.GUNICORN + ["tripboard.wsgi:application", "--workers", str(math.ceil(rate * latency))]
""", "sync worker processes, one request each"),
]

SATURATION = [
    Case("saturation", "ch09.W021", """
def saturation(points):
    return max(points, key=lambda p: p[1])[0]
""", "the highest point"),
    Case("saturation", "ch09.W022", """
def saturation(points):
    for (clients, rate), (_, following) in zip(points, points[1:]):
        if following < 1.1 * rate:
            return clients
    return points[-1][0]
""", "stops where growth pauses"),
    Case("saturation", "ch09.W020", """
def saturation(points):
    best = max(rate for _, rate in points)
    return next(rate for clients, rate in points if rate >= 0.9 * best)
""", "the throughput, not the clients"),
    Case("saturation", "ch09.W021", """
def saturation(points):
    best = max(rate for _, rate in points)
    return next(clients for clients, rate in points if rate >= 0.99 * best)
""", "99 % instead of 90 %: the highest point, in effect"),
    Case("saturation", "ch09.W023", """
def saturation(points):
    return points[0][0]
""", "the first level"),
    Case("saturation", "ch09.W021", """
def saturation(points):
    return points[-1][0]
""", "the last level"),
    Case("saturation", "ch09.W024", """
def saturation(points):
    best = max(rate for _, rate in points)
    return str(next(clients for clients, rate in points if rate >= 0.9 * best)) + " clients"
""", "a string"),
    Case("saturation", PASS, """
def saturation(points):
    rates = [rate for _, rate in points]
    for index, rate in enumerate(rates):
        if rate / max(rates) >= 0.9:
            return points[index][0]
""", "a loop over indices"),
    Case("saturation", PASS, """
def saturation(points):
    clients, rates = zip(*points)
    threshold = 0.9 * max(rates)
    return min(c for c, r in zip(clients, rates) if r >= threshold)
""", "zip and min"),
]

OFFLOAD = [
    Case("cpu-offload", "ch09.W030", """
async def cpu_report(request):
    cpu = burn(int(request.GET["n"]))
    return JsonResponse({"cpu": cpu})
""", "unchanged: computes on the loop"),
    Case("cpu-offload", "ch09.W030", """
async def cpu_report(request):
    await asyncio.sleep(0)
    cpu = burn(int(request.GET["n"]))
    await asyncio.sleep(0)
    return JsonResponse({"cpu": cpu})
""", "awaits around the computation"),
    Case("cpu-offload", "ch09.W032", """
async def cpu_report(request):
    cpu = await asyncio.to_thread(burn(int(request.GET["n"])))
    return JsonResponse({"cpu": cpu})
""", "to_thread(burn(n))"),
    Case("cpu-offload", "ch09.W032", """
async def cpu_report(request):
    loop = asyncio.get_running_loop()
    cpu = await loop.run_in_executor(None, burn(int(request.GET["n"])))
    return JsonResponse({"cpu": cpu})
""", "run_in_executor(None, burn(n))"),
    Case("cpu-offload", "ck.W002", """
async def cpu_report(request):
    cpu = asyncio.to_thread(burn, int(request.GET["n"]))
    return JsonResponse({"cpu": cpu})
""", "to_thread not awaited"),
    Case("cpu-offload", "ch09.W033", """
async def cpu_report(request):
    cpu = await asyncio.to_thread(burn, request.GET["n"])
    return JsonResponse({"cpu": cpu})
""", "n left as text"),
    Case("cpu-offload", "ch09.W031", """
async def cpu_report(request):
    cpu = await asyncio.to_thread(burn)
    return JsonResponse({"cpu": cpu})
""", "n ignored"),
    Case("cpu-offload", "ch09.W034", """
async def cpu_report(request):
    return {"cpu": await asyncio.to_thread(burn, int(request.GET["n"]))}
""", "a dict, not a response"),
    Case("cpu-offload", PASS, """
from asgiref.sync import sync_to_async

async def cpu_report(request):
    cpu = await sync_to_async(burn)(int(request.GET.get("n", 1000)))
    return JsonResponse({"cpu": cpu})
""", "sync_to_async"),
    Case("cpu-offload", PASS, """
def cpu_report(request):
    return JsonResponse({"cpu": burn(int(request.GET["n"]))})
""", "a plain def view: Django gives it a thread"),
    Case("cpu-offload", PASS, """
async def cpu_report(request):
    n = int(request.GET["n"])
    return JsonResponse({"cpu": await asyncio.get_running_loop().run_in_executor(None, burn, n)})
""", "run_in_executor"),
]

CASES = POOL + SATURATION + OFFLOAD


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_answer(runner, case):
    problem = verdict_problem(case, runner.judge(case))
    assert problem is None, problem
