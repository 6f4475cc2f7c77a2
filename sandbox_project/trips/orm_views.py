"""Async views on the async ORM (chapter 05), and a bare async view for measurements (chapter 04)."""
import asyncio
import threading
import time

from django.contrib.auth import aauthenticate, alogin
from django.core.paginator import AsyncPaginator
from django.http import JsonResponse
from django.shortcuts import aget_object_or_404

from . import slowdb
from .models import City, Trip


async def ping(request):
    """The smallest async view: no database, no upstream. Good for measuring the stack around it."""
    return JsonResponse({"ok": True})


async def nap(request):
    """An async view that waits ?s= seconds (default 0.1) without blocking the loop."""
    await asyncio.sleep(float(request.GET.get("s", "0.1")))
    return JsonResponse({"slept": float(request.GET.get("s", "0.1"))})


def _trip_json(trip):
    return {"title": trip.title, "city": trip.city.name, "starts_on": trip.starts_on.isoformat(),
            "bookings": [{"kind": b.kind, "reference": b.reference, "amount": str(b.amount)}
                         for b in trip.bookings.all()]}


async def dashboard(request, username):
    """A user's trips with their city and bookings: three queries, fetched up front, no lazy access."""
    trips = Trip.objects.filter(owner__username=username).select_related("city").prefetch_related("bookings")
    data = [_trip_json(trip) async for trip in trips]
    return JsonResponse({"user": username, "trips": data, "count": len(data)})


async def city(request, slug):
    city = await aget_object_or_404(City, slug=slug)
    return JsonResponse({"name": city.name, "trips": await city.trips.acount()})


async def trip_page(request):
    """Trips, two per page, with AsyncPaginator (Django 6.0+): ?page=N."""
    paginator = AsyncPaginator(Trip.objects.select_related("city"), per_page=2)
    page = await paginator.aget_page(request.GET.get("page"))
    trips = await page.aget_object_list()
    return JsonResponse({"page": page.number, "num_pages": await paginator.anum_pages(),
                         "has_next": await page.ahas_next(),
                         "trips": [{"title": t.title, "city": t.city.name} for t in trips]})


async def slow(request):
    """One slow query (?s=seconds): it reports which thread ran it and when.

    start/end: when the view awaited the query and got its answer; db: the thread that ran
    the SQL and when the database was busy with it (all on the time.perf_counter() clock).
    """
    seconds = float(request.GET.get("s", "0.2"))
    started = time.perf_counter()
    db = await slowdb.anap(seconds)
    return JsonResponse({"start": started, "end": time.perf_counter(), "loop_thread": threading.current_thread().name,
                         "db": db})


async def slow_gather(request):
    """Three (?n=) slow queries with asyncio.gather, inside one request; spans and db as in `slow`."""
    seconds = float(request.GET.get("s", "0.2"))
    n = int(request.GET.get("n", "3"))

    async def one():
        started = time.perf_counter()
        db = await slowdb.anap(seconds)
        return [started, time.perf_counter()], db

    results = await asyncio.gather(*(one() for _ in range(n)))
    return JsonResponse({"spans": [span for span, _ in results], "db": [db for _, db in results]})


async def whoami(request):
    """Async auth and sessions: request.auser() and the session's a-methods."""
    user = await request.auser()
    visits = await request.session.aget("visits", 0) + 1
    await request.session.aset("visits", visits)
    return JsonResponse({"user": user.username if user.is_authenticated else None, "visits": visits})


async def login_view(request):
    """POST username and password: aauthenticate, then alogin."""
    user = await aauthenticate(request, username=request.POST.get("username"),
                               password=request.POST.get("password"))
    if user is None:
        return JsonResponse({"ok": False}, status=401)
    await alogin(request, user)
    return JsonResponse({"ok": True, "user": user.username})
