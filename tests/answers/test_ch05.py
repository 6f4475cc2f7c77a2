"""Wrong and right answers for chapter 05's exercises, with the nudge each must get."""
import os

import pytest

from tests.answers.harness import PASS, Case, verdict_problem

CHAPTER = "05"

DASHBOARD_SYNC = '''
def dashboard_sync(username):
    trips = Trip.objects.filter(owner__username=username)
    return [{"title": trip.title, "city": trip.city.name,
             "bookings": [b.reference for b in trip.bookings.all()],
             "total": sum(b.amount for b in trip.bookings.all())}
            for trip in trips]
'''

DASHBOARD = [
    Case("dashboard", "ch05.W001", """
async def dashboard(username):
    trips = Trip.objects.filter(owner__username=username).prefetch_related("bookings")
    return [{"title": trip.title, "city": trip.city.name,
             "bookings": [b.reference for b in trip.bookings.all()],
             "total": sum(b.amount for b in trip.bookings.all())}
            async for trip in trips]
""", "lazy trip.city"),
    Case("dashboard", "ch05.W002", """
async def dashboard(username):
    trips = Trip.objects.filter(owner__username=username).select_related("city")
    return [{"title": trip.title, "city": trip.city.name,
             "bookings": [b.reference for b in trip.bookings.all()],
             "total": sum(b.amount for b in trip.bookings.all())}
            async for trip in trips]
""", "select_related, but trip.bookings lazy"),
    Case("dashboard", "ch05.W025", """
async def dashboard(username):
    result = []
    async for trip in Trip.objects.filter(owner__username=username).select_related("city"):
        refs, total = [], 0
        async for booking in trip.bookings.all():
            refs.append(booking.reference)
            total += booking.amount
        result.append({"title": trip.title, "city": trip.city.name, "bookings": refs, "total": total})
    return result
""", "N+1: async for over each trip's bookings"),
    Case("dashboard", "ch05.W025", """
from django.db.models import Sum
async def dashboard(username):
    out = []
    async for trip in Trip.objects.filter(owner__username=username).select_related("city"):
        refs = [ref async for ref in Booking.objects.filter(trip=trip).values_list("reference", flat=True)]
        total = (await trip.bookings.aaggregate(s=Sum("amount")))["s"] or 0
        out.append({"title": trip.title, "city": trip.city.name, "bookings": refs, "total": total})
    return out
""", "N+1: a-methods per trip"),
    Case("dashboard", "ch05.W026", DASHBOARD_SYNC + """
async def dashboard(username):
    return await sync_to_async(dashboard_sync)(username)
""", "N+1: the sync version wrapped in sync_to_async"),
    Case("dashboard", "ch05.W003", """
async def dashboard(username):
    trips = list(Trip.objects.filter(owner__username=username).select_related("city").prefetch_related("bookings"))
    return [{"title": t.title, "city": t.city.name, "bookings": [b.reference for b in t.bookings.all()],
             "total": sum(b.amount for b in t.bookings.all())} for t in trips]
""", "list(qs) in async def"),
    Case("dashboard", "ch05.W003", """
def user_trips(username):
    return Trip.objects.filter(owner__username=username).select_related("city").prefetch_related("bookings")

async def dashboard(username):
    trips = await sync_to_async(user_trips)(username)
    return [{"title": t.title, "city": t.city.name, "bookings": [b.reference for b in t.bookings.all()],
             "total": sum(b.amount for b in t.bookings.all())} for t in trips]
""", "a lazy QuerySet leaked from sync_to_async"),
    Case("dashboard", "ch05.W011", """
async def dashboard(username):
    trips = Trip.objects.filter(owner__username=username).select_related("city").prefetch_related("bookings")
    return [{"title": t.title, "city": t.city.name,
             "bookings": t.bookings.values_list("reference", flat=True),
             "total": sum(b.amount for b in t.bookings.all())} async for t in trips]
""", "a QuerySet returned inside the result"),
    Case("dashboard", "ck.W001", DASHBOARD_SYNC.replace("trips = Trip.objects.filter(owner__username=username)",
                                                        "trips = Trip.objects.filter(owner__username=username)"
                                                        ".select_related('city').prefetch_related('bookings')") + """
async def dashboard(username):
    return sync_to_async(dashboard_sync)(username)
""", "missing await: the coroutine returned"),
    Case("dashboard", "ck.W002", """
async def dashboard(username):
    trips = sync_to_async(list)(Trip.objects.filter(owner__username=username).select_related("city")
                                .prefetch_related("bookings"))
    return [{"title": t.title, "city": t.city.name, "bookings": [b.reference for b in t.bookings.all()],
             "total": sum(b.amount for b in t.bookings.all())} for t in trips]
""", "missing await: the coroutine iterated"),
    Case("dashboard", "ch05.W005", """
async def dashboard(username):
    rows = await Trip.objects.filter(owner__username=username).values("title", "city__name")
    return [{"title": r["title"], "city": r["city__name"], "bookings": [], "total": 0} for r in rows]
""", "await qs.values()"),
    Case("dashboard", "ch05.W023", """
async def dashboard(username):
    trips = (Trip.objects.filter(owner__username=username).select_related("city").prefetch_related("bookings")
             .order_by("title"))
    return [{"title": t.title, "city": t.city.name, "bookings": [b.reference for b in t.bookings.all()],
             "total": sum(b.amount for b in t.bookings.all())} async for t in trips]
""", "trips ordered by title"),
    Case("dashboard", "ch05.W023", """
async def dashboard(username):
    trips = Trip.objects.filter(owner__username=username).select_related("city").prefetch_related("bookings")
    return [{"title": t.title, "city": t.city.name, "bookings": sorted(b.reference for b in t.bookings.all()),
             "total": sum(b.amount for b in t.bookings.all())} async for t in trips]
""", "bookings sorted by reference"),
    Case("dashboard", "ch05.W022", """
async def dashboard(username):
    trips = Trip.objects.filter(owner__username="alice").select_related("city").prefetch_related("bookings")
    return [{"title": t.title, "city": t.city.name, "bookings": [b.reference for b in t.bookings.all()],
             "total": sum(b.amount for b in t.bookings.all())} async for t in trips]
""", "the example user, hard-coded"),
    Case("dashboard", "ch05.W024", """
async def dashboard(username):
    trips = Trip.objects.filter(owner__username=username).select_related("city").prefetch_related("bookings")
    return [{"title": t.title, "city": t.city.slug, "bookings": [b.reference for b in t.bookings.all()],
             "total": str(sum(b.amount for b in t.bookings.all()))} async for t in trips]
""", "the city's slug and the total as a string"),
    Case("dashboard", "ck.W007", """
import os
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
async def dashboard(username):
    trips = Trip.objects.filter(owner__username=username).select_related("city").prefetch_related("bookings")
    return [{"title": t.title, "city": t.city.name, "bookings": [b.reference for b in t.bookings.all()],
             "total": sum(b.amount for b in t.bookings.all())} for t in trips]
""", "DJANGO_ALLOW_ASYNC_UNSAFE set in the answer"),
    Case("dashboard", "ck.W005", DASHBOARD_SYNC.replace("dashboard_sync", "dashboard"), "a plain def"),
    Case("dashboard", "ch05.W020", """
async def dashboard(username):
    trips = Trip.objects.filter(owner__username=username).select_related("city").prefetch_related("bookings")
    return {t.title: {"city": t.city.name, "bookings": [b.reference for b in t.bookings.all()],
                      "total": sum(b.amount for b in t.bookings.all())} async for t in trips}
""", "a dict keyed by title"),
    Case("dashboard", "ch05.W021", """
async def dashboard(username):
    trips = Trip.objects.filter(owner__username=username).select_related("city").prefetch_related("bookings")
    return [{"title": t.title, "city": t.city.name, "references": [b.reference for b in t.bookings.all()],
             "total": sum(b.amount for b in t.bookings.all())} async for t in trips]
""", "another key name"),
    Case("dashboard", PASS, """
from django.db.models import prefetch_related_objects
async def dashboard(username):
    trips = [t async for t in Trip.objects.filter(owner__username=username).select_related("city")]
    from django.db.models import aprefetch_related_objects
    await aprefetch_related_objects(trips, "bookings")
    return [{"title": t.title, "city": t.city.name, "bookings": [b.reference for b in t.bookings.all()],
             "total": sum(b.amount for b in t.bookings.all())} for t in trips]
""", "aprefetch_related_objects on the fetched trips"),
    Case("dashboard", PASS, """
def _dashboard(username):
    rows = []
    for trip in Trip.objects.filter(owner__username=username).select_related("city").prefetch_related("bookings"):
        bookings = list(trip.bookings.all())
        rows.append({"title": trip.title, "city": trip.city.name, "bookings": [b.reference for b in bookings],
                     "total": sum(b.amount for b in bookings)})
    return rows

async def dashboard(username):
    return await sync_to_async(_dashboard)(username)
""", "one sync function, wrapped once"),
    Case("dashboard", PASS, """
from collections import defaultdict
async def dashboard(username):
    trips = [t async for t in Trip.objects.filter(owner__username=username).select_related("city")]
    refs, totals = defaultdict(list), defaultdict(int)
    async for b in Booking.objects.filter(trip__in=[t.id for t in trips]).order_by("id"):
        refs[b.trip_id].append(b.reference)
        totals[b.trip_id] += b.amount
    return [{"title": t.title, "city": t.city.name, "bookings": refs[t.id], "total": totals[t.id]} for t in trips]
""", "two queries grouped by hand"),
]

TRANSFER = [
    Case("transfer", "ch05.W032", """
async def transfer(source, target, amount):
    await Booking.objects.filter(reference=source).aupdate(amount=F("amount") - amount)
    await Booking.objects.filter(reference=target).aupdate(amount=F("amount") + amount)
""", "two a-methods, debit first"),
    Case("transfer", "ch05.W032", """
async def transfer(source, target, amount):
    await Booking.objects.filter(reference=target).aupdate(amount=F("amount") + amount)
    await Booking.objects.filter(reference=source).aupdate(amount=F("amount") - amount)
""", "two a-methods, credit first"),
    Case("transfer", "ch05.W032", """
async def transfer(source, target, amount):
    src = await Booking.objects.aget(reference=source)
    dst = await Booking.objects.aget(reference=target)
    src.amount -= amount
    dst.amount += amount
    await src.asave()
    await dst.asave()
""", "asave() twice"),
    Case("transfer", "ch05.W032", """
async def transfer(source, target, amount):
    src = await Booking.objects.aget(reference=source)
    if src.amount < amount:
        raise ValueError("not enough money")
    await Booking.objects.filter(reference=target).aupdate(amount=F("amount") + amount)
    await Booking.objects.filter(reference=source).aupdate(amount=F("amount") - amount)
""", "balance checked first, then two a-methods, credit first"),
    Case("transfer", "ch05.W006", """
async def transfer(source, target, amount):
    with transaction.atomic():
        await Booking.objects.filter(reference=source).aupdate(amount=F("amount") - amount)
        await Booking.objects.filter(reference=target).aupdate(amount=F("amount") + amount)
""", "with transaction.atomic() in async def"),
    Case("transfer", "ch05.W006", """
async def transfer(source, target, amount):
    async with transaction.atomic():
        await Booking.objects.filter(reference=source).aupdate(amount=F("amount") - amount)
        await Booking.objects.filter(reference=target).aupdate(amount=F("amount") + amount)
""", "async with transaction.atomic()"),
    Case("transfer", "ch05.W006", """
@transaction.atomic
async def transfer(source, target, amount):
    await Booking.objects.filter(reference=source).aupdate(amount=F("amount") - amount)
    await Booking.objects.filter(reference=target).aupdate(amount=F("amount") + amount)
""", "@transaction.atomic on the async def"),
    Case("transfer", "ch05.W032", """
def move(source, target, amount):
    Booking.objects.filter(reference=source).update(amount=F("amount") - amount)
    Booking.objects.filter(reference=target).update(amount=F("amount") + amount)

async def transfer(source, target, amount):
    await sync_to_async(move)(source, target, amount)
""", "sync_to_async without atomic"),
    Case("transfer", "ch05.W032", """
@transaction.atomic
def debit(source, amount):
    Booking.objects.filter(reference=source).update(amount=F("amount") - amount)

@transaction.atomic
def credit(target, amount):
    Booking.objects.filter(reference=target).update(amount=F("amount") + amount)

async def transfer(source, target, amount):
    await sync_to_async(debit)(source, amount)
    await sync_to_async(credit)(target, amount)
""", "two atomic functions, two hops"),
    Case("transfer", "ch05.W033", """
@transaction.atomic
def move(source, target, amount):
    Booking.objects.filter(reference=source).update(amount=F("amount") - amount)
    Booking.objects.filter(reference=target).update(amount=F("amount") + amount)

async def transfer(source, target, amount):
    try:
        await sync_to_async(move)(source, target, amount)
    except Exception as exc:
        print("transfer failed:", exc)
""", "the error swallowed"),
    Case("transfer", "ch05.W034", """
@transaction.atomic
def move(source, target, amount):
    Booking.objects.filter(reference=source).update(amount=F("amount") - amount)
    Booking.objects.filter(reference=target).update(amount=F("amount") + amount)

async def transfer(source, target, amount):
    await sync_to_async(move, thread_sensitive=False)(source, target, amount)
""", "thread_sensitive=False: the connection left open"),
    Case("transfer", "ch05.W034", """
@transaction.atomic
def move(source, target, amount):
    Booking.objects.filter(reference=source).update(amount=F("amount") - amount)
    Booking.objects.filter(reference=target).update(amount=F("amount") + amount)

async def transfer(source, target, amount):
    await asyncio.to_thread(move, source, target, amount)
""", "asyncio.to_thread"),
    Case("transfer", "ch05.W031", """
@transaction.atomic
def move(source, target, amount):
    Booking.objects.filter(reference=source).update(amount=F("amount") + amount)
    Booking.objects.filter(reference=target).update(amount=F("amount") - amount)

async def transfer(source, target, amount):
    await sync_to_async(move)(source, target, amount)
""", "the wrong direction"),
    Case("transfer", "ch05.W030", """
@transaction.atomic
def move(source, target, amount):
    Booking.objects.filter(reference=source).update(amount=F("amount") - amount)
    Booking.objects.filter(reference=target).update(amount=F("amount") + amount)

async def transfer(source, target, amount):
    sync_to_async(move)(source, target, amount)
""", "missing await"),
    Case("transfer", "ch05.W004", """
@transaction.atomic
def move(source, target, amount):
    Booking.objects.filter(reference=source).update(amount=F("amount") - amount)
    Booking.objects.filter(reference=target).update(amount=F("amount") + amount)

async def transfer(source, target, amount):
    src = Booking.objects.get(reference=source)
    await sync_to_async(move)(src.reference, target, amount)
""", "a sync get() in async code"),
    Case("transfer", "ck.W007", """
import os
async def transfer(source, target, amount):
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "1"      # just for this bit
    try:
        with transaction.atomic():
            Booking.objects.filter(reference=source).update(amount=F("amount") - amount)
            Booking.objects.filter(reference=target).update(amount=F("amount") + amount)
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
""", "the guard switched off inside the function only"),
    Case("transfer", PASS, """
def move(source, target, amount):
    with transaction.atomic():
        Booking.objects.filter(reference=source).update(amount=F("amount") - amount)
        Booking.objects.filter(reference=target).update(amount=F("amount") + amount)

async def transfer(source, target, amount):
    await sync_to_async(move)(source, target, amount)
""", "atomic as a with block inside the sync function"),
    Case("transfer", PASS, """
@sync_to_async
@transaction.atomic
def transfer(source, target, amount):
    Booking.objects.filter(reference=target).update(amount=F("amount") + amount)
    Booking.objects.filter(reference=source).update(amount=F("amount") - amount)
""", "sync_to_async as a decorator, credit first"),
    Case("transfer", PASS, """
from django.db import DatabaseError

class TransferFailed(Exception):
    pass

@transaction.atomic
def move(source, target, amount):
    Booking.objects.filter(reference=source).update(amount=F("amount") - amount)
    Booking.objects.filter(reference=target).update(amount=F("amount") + amount)

async def transfer(source, target, amount):
    try:
        await sync_to_async(move)(source, target, amount)
    except DatabaseError as exc:
        raise TransferFailed(f"{amount} not moved from {source} to {target}") from exc
""", "a custom error raised from the database error"),
    Case("transfer", PASS, """
def move(source, target, amount):
    with transaction.atomic():
        src = Booking.objects.select_for_update().get(reference=source)
        dst = Booking.objects.select_for_update().get(reference=target)
        if src.amount < amount:
            raise ValueError(f"{source} holds {src.amount}, less than {amount}")
        src.amount -= amount
        dst.amount += amount
        src.save(update_fields=["amount"])
        dst.save(update_fields=["amount"])

async def transfer(source, target, amount):
    return await sync_to_async(move)(source, target, amount)
""", "select_for_update and its own balance check"),
    Case("transfer", PASS, """
@transaction.atomic
def move(source, target, amount):
    Booking.objects.filter(reference=source).update(amount=F("amount") - amount)
    Booking.objects.filter(reference=target).update(amount=F("amount") + amount)

def move_and_close(source, target, amount):
    try:
        move(source, target, amount)
    finally:
        connections.close_all()          # a pool thread's connection: nobody else closes it

async def transfer(source, target, amount):
    await sync_to_async(move_and_close, thread_sensitive=False)(source, target, amount)
""", "thread_sensitive=False, closing its own connection"),
]

PAGINATE = [
    Case("paginate", "ch05.W007", """
from django.core.paginator import Paginator
async def trip_page(number, per_page=2):
    paginator = Paginator(Trip.objects.select_related("city"), per_page)
    page = paginator.get_page(number)
    return {"page": page.number, "num_pages": paginator.num_pages, "has_next": page.has_next(),
            "trips": [f"{t.title} ({t.city.name})" for t in page]}
""", "the sync Paginator"),
    Case("paginate", "ch05.W008", """
async def trip_page(number, per_page=2):
    paginator = AsyncPaginator(Trip.objects.select_related("city"), per_page)
    page = await paginator.aget_page(number)
    return {"page": page.number, "num_pages": await paginator.anum_pages(), "has_next": await page.ahas_next(),
            "trips": [f"{t.title} ({t.city.name})" for t in page]}
""", "the page used before aget_object_list()"),
    Case("paginate", "ch05.W003", """
async def trip_page(number, per_page=2):
    paginator = AsyncPaginator(Trip.objects.select_related("city"), per_page)
    page = await paginator.aget_page(number)
    return {"page": page.number, "num_pages": await paginator.anum_pages(), "has_next": await page.ahas_next(),
            "trips": [f"{t.title} ({t.city.name})" for t in page.object_list]}
""", "page.object_list iterated with a plain for"),
    Case("paginate", "ch05.W010", """
async def trip_page(number, per_page=2):
    paginator = AsyncPaginator(Trip.objects.select_related("city"), per_page)
    page = await paginator.apage(number)
    trips = await page.aget_object_list()
    return {"page": page.number, "num_pages": await paginator.anum_pages(), "has_next": await page.ahas_next(),
            "trips": [f"{t.title} ({t.city.name})" for t in trips]}
""", "apage instead of aget_page"),
    Case("paginate", "ch05.W009", """
async def trip_page(number, per_page=2):
    paginator = AsyncPaginator(Trip.objects.select_related("city"), per_page)
    page = await paginator.aget_page(number)
    trips = await page.aget_object_list()
    return {"page": page.number, "num_pages": paginator.num_pages, "has_next": await page.ahas_next(),
            "trips": [f"{t.title} ({t.city.name})" for t in trips]}
""", "the num_pages property"),
    Case("paginate", "ch05.W001", """
async def trip_page(number, per_page=2):
    paginator = AsyncPaginator(Trip.objects.all(), per_page)
    page = await paginator.aget_page(number)
    trips = await page.aget_object_list()
    return {"page": page.number, "num_pages": await paginator.anum_pages(), "has_next": await page.ahas_next(),
            "trips": [f"{t.title} ({t.city.name})" for t in trips]}
""", "no select_related: lazy trip.city"),
    Case("paginate", "ck.W001", """
async def trip_page(number, per_page=2):
    paginator = AsyncPaginator(Trip.objects.select_related("city"), per_page)
    page = await paginator.aget_page(number)
    trips = await page.aget_object_list()
    return {"page": page.number, "num_pages": paginator.anum_pages(), "has_next": page.ahas_next(),
            "trips": [f"{t.title} ({t.city.name})" for t in trips]}
""", "missing awaits"),
    Case("paginate", "ch05.W043", """
async def trip_page(number, per_page=2):
    paginator = AsyncPaginator(Trip.objects.select_related("city"), per_page)
    page = await paginator.aget_page(number)
    trips = await page.aget_object_list()
    return {"page": page.number, "num_pages": await paginator.acount(), "has_next": await page.ahas_next(),
            "trips": [f"{t.title} ({t.city.name})" for t in trips]}
""", "acount() for num_pages"),
    Case("paginate", "ch05.W041", """
from django.core.paginator import InvalidPage
async def trip_page(number, per_page=2):
    paginator = AsyncPaginator(Trip.objects.select_related("city"), per_page)
    try:
        page = await paginator.apage(number)
    except InvalidPage:
        page = await paginator.apage(1)
    trips = await page.aget_object_list()
    return {"page": page.number, "num_pages": await paginator.anum_pages(), "has_next": await page.ahas_next(),
            "trips": [f"{t.title} ({t.city.name})" for t in trips]}
""", "page 1 for a number too large"),
    Case("paginate", "ch05.W042", """
async def trip_page(number, per_page=2):
    paginator = AsyncPaginator(Trip.objects.select_related("city").order_by("title"), per_page)
    page = await paginator.aget_page(number)
    trips = await page.aget_object_list()
    return {"page": page.number, "num_pages": await paginator.anum_pages(), "has_next": await page.ahas_next(),
            "trips": [f"{t.title} ({t.city.name})" for t in trips]}
""", "ordered by title"),
    Case("paginate", "ck.E006", """
async def trip_page(number, per_page):
    paginator = AsyncPaginator(Trip.objects.select_related("city"), per_page)
    page = await paginator.aget_page(number)
    trips = await page.aget_object_list()
    return {"page": page.number, "num_pages": await paginator.anum_pages(), "has_next": await page.ahas_next(),
            "trips": [f"{t.title} ({t.city.name})" for t in trips]}
""", "no default for per_page"),
    Case("paginate", "ch05.W040", """
async def trip_page(number, per_page=2):
    paginator = AsyncPaginator(Trip.objects.select_related("city"), per_page)
    page = await paginator.aget_page(number)
    return page.number, [f"{t.title} ({t.city.name})" for t in await page.aget_object_list()]
""", "a tuple instead of the dict"),
    Case("paginate", "ck.W007", """
import os
from django.core.paginator import Paginator
async def trip_page(number, per_page=2):
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    paginator = Paginator(Trip.objects.select_related("city"), per_page)
    page = paginator.get_page(number)
    result = {"page": page.number, "num_pages": paginator.num_pages, "has_next": page.has_next(),
              "trips": [f"{t.title} ({t.city.name})" for t in page]}
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE")
    return result
""", "the guard switched off and on again"),
    Case("paginate", PASS, """
from django.core.paginator import EmptyPage, PageNotAnInteger
async def trip_page(number, per_page=2):
    paginator = AsyncPaginator(Trip.objects.select_related("city"), per_page)
    try:
        page = await paginator.apage(number)
    except PageNotAnInteger:
        page = await paginator.apage(1)
    except EmptyPage:
        page = await paginator.apage(await paginator.anum_pages())
    return {"page": page.number, "num_pages": await paginator.anum_pages(), "has_next": await page.ahas_next(),
            "trips": [f"{t.title} ({t.city.name})" async for t in page]}
""", "apage with its own clamping, async for over the page"),
    Case("paginate", PASS, """
from django.core.paginator import Paginator
def _page(number, per_page):
    paginator = Paginator(Trip.objects.select_related("city"), per_page)
    page = paginator.get_page(number)
    return {"page": page.number, "num_pages": paginator.num_pages, "has_next": page.has_next(),
            "trips": [f"{t.title} ({t.city.name})" for t in page]}

async def trip_page(number, per_page=2):
    return await sync_to_async(_page)(number, per_page)
""", "the sync Paginator in one sync function, wrapped once"),
]

PARALLEL_MEASURED = """
async def runs_in_parallel(run_queries, n, seconds):
    started = time.perf_counter()
    await run_queries()
    wall = time.perf_counter() - started
"""

PARALLEL = [
    Case("parallel", "ch05.W054", PARALLEL_MEASURED + "    return wall, True\n", "gather means parallel"),
    Case("parallel", "ch05.W055", PARALLEL_MEASURED + "    return wall, wall < 0.2\n", "a fixed threshold"),
    Case("parallel", "ch05.W051", """
async def runs_in_parallel(run_queries, n, seconds):
    started = time.perf_counter()
    task = asyncio.create_task(run_queries())
    wall = time.perf_counter() - started
    await task
    return wall, wall < (seconds + n * seconds) / 2
""", "the clock stopped before the task ran"),
    Case("parallel", "ch05.W052", """
async def runs_in_parallel(run_queries, n, seconds):
    started = time.perf_counter()
    await run_queries()
    wall = (time.perf_counter() - started) * 1000
    return wall, wall < (seconds + n * seconds) / 2 * 1000
""", "milliseconds"),
    Case("parallel", "ch05.W053", """
async def runs_in_parallel(run_queries, n, seconds):
    started = time.perf_counter()
    await run_queries()
    await run_queries()
    wall = time.perf_counter() - started
    return wall, wall / 2 < (seconds + n * seconds) / 2
""", "two runs in one measurement"),
    Case("parallel", "ck.W002", """
async def runs_in_parallel(run_queries, n, seconds):
    started = time.perf_counter()
    run_queries()
    wall = time.perf_counter() - started
    return wall, wall < (seconds + n * seconds) / 2
""", "missing await"),
    Case("parallel", "ch05.W050", PARALLEL_MEASURED + "    return wall < (seconds + n * seconds) / 2\n",
         "only the verdict"),
    Case("parallel", PASS, """
async def runs_in_parallel(run_queries, n, seconds):
    async def measure():
        started = time.monotonic()
        await run_queries()
        return time.monotonic() - started
    await measure()                     # a warm-up run
    wall = await measure()
    return wall, abs(wall - seconds) < abs(wall - n * seconds)
""", "a warm-up run, then the nearer of the two outcomes"),
    Case("parallel", PASS, """
async def runs_in_parallel(run_queries, n, seconds):
    t0 = time.perf_counter()
    await run_queries()
    wall = time.perf_counter() - t0
    speedup = n * seconds / wall
    return wall, speedup > 1.5
""", "the ratio to the serial time"),
]

CASES = DASHBOARD + TRANSFER + PAGINATE + PARALLEL


@pytest.fixture(autouse=True)
def async_guard_back_on():
    """An answer that switches Django's guard off must not leak into the next answer's verdict."""
    yield
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_answer(runner, case):
    problem = verdict_problem(case, runner.judge(case))
    assert problem is None, problem
