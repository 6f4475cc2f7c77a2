"""The performance lab's endpoints (chapter 09): four kinds of work, each as a sync and an async view.

| URL                            | the work                                              |
|--------------------------------|-------------------------------------------------------|
| /lab/io/sync/, /lab/io/async/  | one upstream call (urllib / aiohttp): pure waiting     |
| /lab/cpu/sync/, /lab/cpu/async/| about 20 ms of pure Python (`?n=` loop rounds)         |
| /lab/db/sync/, /lab/db/async/  | a slow read: `?s=` seconds (0.1) inside SQLite         |
| /lab/write/sync/, .../async/   | a write transaction holding SQLite's write lock for    |
|                                | `?hold=` seconds (0.02)                                |

Each answers JSON with what it did, so a test (or a curious learner) can see it. The async
views are what you would write: aiohttp on one session per event loop, the ORM's a-methods,
and `sync_to_async` around the transaction (atomic() does not work in async code).
"""
import asyncio
import time
import uuid

import aiohttp
from asgiref.sync import sync_to_async
from django.db import connection, transaction
from django.http import JsonResponse

from . import slowdb, upstream
from .models import Booking, Trip

CPU_ROUNDS = 300_000      # about 20 ms of Python on a laptop
READ_SECONDS = 0.1
HOLD_SECONDS = 0.02
LAB_PREFIX = "LAB"        # references of the bookings the write endpoint creates


def _number(request, name, default, limit):
    return min(type(default)(request.GET.get(name, default)), limit)


# --- I/O-bound: one upstream call --------------------------------------------------------
def io_sync(request):
    """Waits for the upstream with urllib: the request's thread blocks for the whole round trip."""
    return JsonResponse(upstream.fetch_sync("weather", request.GET.get("city", "kyoto")))


_sessions = {}


def _session():
    """One aiohttp session per event loop, without aiohttp's default cap of 100 connections."""
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        session = _sessions[loop] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    return session


async def io_async(request):
    """Waits for the upstream with aiohttp: the event loop serves other requests meanwhile."""
    return JsonResponse(await upstream.fetch(_session(), "weather", request.GET.get("city", "kyoto")))


async def close_sessions():
    """Close this loop's session (a notebook that served these views in its own kernel)."""
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None:
        await session.close()


# --- CPU-bound: pure Python ----------------------------------------------------------------
def burn(rounds=CPU_ROUNDS):
    """Pure-Python work; returns the CPU seconds this thread spent on it."""
    started = time.thread_time()
    total = 0
    for i in range(rounds):
        total += i * i % 7
    return time.thread_time() - started


def cpu_sync(request):
    return JsonResponse({"cpu": burn(_number(request, "n", CPU_ROUNDS, 10_000_000))})


async def cpu_async(request):
    """`async def` changes nothing here: the work runs on the event loop and holds it throughout."""
    return JsonResponse({"cpu": burn(_number(request, "n", CPU_ROUNDS, 10_000_000))})


# --- a slow database read ------------------------------------------------------------------
def _with_sleep_function():
    """slowdb's SQL sleep on this thread's connection (lab servers never call slowdb.install())."""
    connection.ensure_connection()
    slowdb.add_to(connection)


def db_sync(request):
    _with_sleep_function()
    return JsonResponse({"db": slowdb.nap(_number(request, "s", READ_SECONDS, 2.0))})


async def db_async(request):
    """The async ORM: `aget()` is the sync query run by sync_to_async, on a thread."""
    await sync_to_async(_with_sleep_function)()
    return JsonResponse({"db": await slowdb.anap(_number(request, "s", READ_SECONDS, 2.0))})


# --- SQLite writes --------------------------------------------------------------------------
def write_booking(hold=HOLD_SECONDS):
    """One write transaction: a new booking, then `hold` seconds more before the commit.

    The INSERT comes first, so the transaction takes SQLite's write lock at once and keeps it
    until the commit; the sleep stands in for a longer write. Other writers wait for the lock.
    """
    trip_id = Trip.objects.order_by("pk").values_list("pk", flat=True).first()
    started = time.perf_counter()
    with transaction.atomic():
        booking = Booking.objects.create(trip_id=trip_id, kind=Booking.Kind.HOTEL, amount=0,
                                         reference=f"{LAB_PREFIX}{uuid.uuid4().hex[:9]}")
        locked = time.perf_counter()
        time.sleep(hold)
    return {"booking": booking.pk, "waited": locked - started, "held": time.perf_counter() - locked}


def write_sync(request):
    return JsonResponse(write_booking(_number(request, "hold", HOLD_SECONDS, 1.0)))


async def write_async(request):
    """atomic() does not work in async code: the transaction is one sync function, run on a thread."""
    return JsonResponse(await sync_to_async(write_booking)(_number(request, "hold", HOLD_SECONDS, 1.0)))


def forget_writes():
    """Delete the bookings the write endpoint created (sync; returns how many)."""
    return Booking.objects.filter(reference__startswith=LAB_PREFIX).delete()[0]
