"""Wrong and right answers for chapter 11's exercises (the capstone), with the nudge each must get.

The capstone's answers are files. A row here is a learner's version of one function (or class) in
one file of the app: it is written into a copy of the worked answer, after the worked answer's own
version (so it replaces it, the way a learner's file would), and the check reads that copy, as it
reads a learner's `work/capstone/dashboard/`. Rows of the tests exercise are test functions, run
against the worked answer (or a copy with a bug of the learner's).
"""
import atexit
import itertools
import os
import shutil
import tempfile
import textwrap
from pathlib import Path

import pytest

from coursekit import capstone
from tests.answers.harness import PASS, Case, verdict_problem

CHAPTER = "11"
# One folder per process, whichever module object asks for it (the rows import app_with by name), removed
# when the table ends and, in any case, when Python exits.
_FOLDER = Path(tempfile.gettempdir()) / f"capstone-table-{os.getpid()}"
_COUNT = itertools.count(1)
atexit.register(shutil.rmtree, _FOLDER, True)


def app_with(files):
    """A copy of the worked answer with these files changed ({"feeds.py": code appended, or "=code" to replace
    the whole file}), loaded as `dashboard` as a learner's copy is."""
    reference = capstone.App(capstone.REFERENCE)
    changed = {}
    for filename, code in files.items():
        code = textwrap.dedent(code)
        if code.startswith("="):
            changed[filename] = code[1:]
        else:
            changed[filename] = reference.path(filename).read_text() + "\n\n# The learner's version:\n" + code
    folder = _FOLDER / f"app-{next(_COUNT)}-{os.urandom(3).hex()}"
    copy = capstone.variant(reference, changed, "dashboard", into=folder)
    return capstone.App(copy.folder)  # as the learner's app: the package `dashboard`


def row(slug, expect, filename, code, note):
    """A Case whose source sets `app` to a copy of the worked answer with `code` in `filename`."""
    return Case(slug, expect, f"from tests.answers.test_ch11 import app_with\n"
                              f"app = app_with({{{filename!r}: {code!r}}})\n", note)


def learner_test(slug, expect, code, note):
    """A Case for the tests exercise: `code` defines test_dashboard; the app is the worked answer."""
    return Case(slug, expect, "from coursekit import capstone\napp = capstone.App(capstone.REFERENCE)\n"
                + textwrap.dedent(code), note)


# --- 1. fan-out ----------------------------------------------------------------------------------------
FAN_OUT = [
    row("fan-out", "ch11.W010", "feeds.py", """
from trips.upstream import UpstreamError

async def city_feeds(slug, budget=BUDGET, services=SERVICES):
    feeds = {}
    async with aiohttp.ClientSession() as session:
        for service in services:
            try:
                async with asyncio.timeout(budget):
                    feeds[service] = await fetch(session, service, slug)
            except (UpstreamError, TimeoutError):
                feeds[service] = None
    return feeds
""", "one feed after another, each with its own timeout"),
    row("fan-out", "ch11.W011", "feeds.py", """
async def city_feeds(slug, budget=BUDGET, services=SERVICES):
    async with aiohttp.ClientSession() as session:
        results = await asyncio.wait_for(asyncio.gather(*(fetch(session, s, slug) for s in services)), budget)
    return dict(zip(services, results))
""", "gather without return_exceptions: a 503 escapes"),
    row("fan-out", "ch11.W012", "feeds.py", """
async def city_feeds(slug, budget=BUDGET, services=SERVICES):
    async with aiohttp.ClientSession() as session:
        results = await asyncio.gather(*(fetch(session, s, slug) for s in services), return_exceptions=True)
    return {s: None if isinstance(r, Exception) else r for s, r in zip(services, results)}
""", "no budget at all: waits for the late one"),
    row("fan-out", "ch11.W013", "feeds.py", """
async def city_feeds(slug, budget=BUDGET, services=SERVICES):
    async with aiohttp.ClientSession() as session:
        try:
            async with asyncio.timeout(budget):
                results = await asyncio.gather(*(fetch(session, s, slug) for s in services),
                                               return_exceptions=True)
        except TimeoutError:
            return {s: None for s in services}
    return {s: None if isinstance(r, Exception) else r for s, r in zip(services, results)}
""", "one timeout around the whole gather"),
    row("fan-out", "ck.W003", "feeds.py", """
from trips.upstream import UpstreamError, fetch_sync

async def city_feeds(slug, budget=BUDGET, services=SERVICES):
    feeds = {}
    for service in services:
        try:
            feeds[service] = fetch_sync(service, slug, timeout=budget)
        except UpstreamError:
            feeds[service] = None
    return feeds
""", "the blocking client (urllib) in async code"),
    row("fan-out", "ch11.W014", "feeds.py", """
async def one(session, service, slug, budget):
    try:
        return await asyncio.wait_for(fetch(session, service, slug), budget)
    except TimeoutError:
        return None

async def city_feeds(slug, budget=BUDGET, services=SERVICES):
    async with aiohttp.ClientSession() as session:
        results = await asyncio.gather(*(one(session, s, slug, budget) for s in services),
                                       return_exceptions=True)
    return dict(zip(services, results))
""", "the exception object in place of None"),
    row("fan-out", "ch11.W017", "feeds.py", """
async def city_feeds(slug, budget=BUDGET, services=SERVICES):
    async with aiohttp.ClientSession() as session:
        tasks = {s: asyncio.create_task(fetch(session, s, slug)) for s in services}
        done, late = await asyncio.wait(tasks.values(), timeout=BUDGET)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)
    return {s: None if t.cancelled() or t.exception() else t.result() for s, t in tasks.items()}
""", "the module's BUDGET instead of the budget argument"),
    row("fan-out", "ch11.W017", "feeds.py", """
from trips.upstream import UpstreamError

async def one(session, service, slug):
    try:
        return await asyncio.wait_for(fetch(session, service, slug), 1)
    except (UpstreamError, TimeoutError):
        return None

async def city_feeds(slug, budget=BUDGET, services=SERVICES):
    async with aiohttp.ClientSession() as session:
        return dict(zip(services, await asyncio.gather(*(one(session, s, slug) for s in services))))
""", "one second per feed, whatever the budget"),
    row("fan-out", "ch11.W015", "feeds.py", """
async def city_feeds(slug, budget=BUDGET, services=SERVICES):
    async with aiohttp.ClientSession() as session:
        tasks = {s: asyncio.create_task(fetch(session, s, slug)) for s in SERVICES}
        done, late = await asyncio.wait(tasks.values(), timeout=budget)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)
    return {s: None if t.cancelled() or t.exception() else t.result() for s, t in tasks.items()}
""", "every service, whatever `services` asks for"),
    row("fan-out", "ck.W004", "feeds.py", """
async def city_feeds(slug, budget=BUDGET, services=SERVICES):
    async with aiohttp.ClientSession() as session:
        tasks = {s: asyncio.create_task(fetch(session, s, slug)) for s in services}
        while not all(task.done() for task in tasks.values()):
            pass  # wait until they are all done (never: the loop cannot run them)
    return {s: t.result() for s, t in tasks.items()}
""", "a busy wait that never lets the loop run: stopped, with an explanation"),
    row("fan-out", "ch11.W001", "feeds.py", """
async def city_feeds(slug, budget=BUDGET, services=SERVICES):
    raise NotImplementedError()
""", "the stub as shipped"),
    row("fan-out", PASS, "feeds.py", """
from trips.upstream import UpstreamError

async def one(session, service, slug, budget):
    try:
        return await asyncio.wait_for(fetch(session, service, slug), budget)
    except (UpstreamError, TimeoutError):
        return None

async def city_feeds(slug, budget=BUDGET, services=SERVICES):
    async with aiohttp.ClientSession() as session:
        results = await asyncio.gather(*(one(session, s, slug, budget) for s in services))
    return dict(zip(services, results))
""", "gather of per-feed wait_for"),
    row("fan-out", PASS, "feeds.py", """
from trips.upstream import UpstreamError

async def city_feeds(slug, budget=BUDGET, services=SERVICES):
    feeds = dict.fromkeys(services)

    async def get(session, service):
        try:
            async with asyncio.timeout(budget):
                feeds[service] = await fetch(session, service, slug)
        except (UpstreamError, TimeoutError):
            pass

    async with aiohttp.ClientSession() as session, asyncio.TaskGroup() as group:
        for service in services:
            group.create_task(get(session, service))
    return feeds
""", "a TaskGroup, a timeout inside each task"),
]

# --- 2. trips without N+1 ---------------------------------------------------------------------------------
TRIPS = [
    row("trips-queries", "ck.E004", "queries.py", """
async def city_trips(slug):
    trips = Trip.objects.filter(city__slug=slug).order_by("starts_on", "id")
    return [{"title": t.title, "owner": t.owner.username, "starts_on": t.starts_on.isoformat(),
             "bookings": await t.bookings.filter(status="confirmed").acount()} async for t in trips]
""", "a lazy owner in async code"),
    row("trips-queries", "ch11.W020", "queries.py", """
async def city_trips(slug):
    trips = Trip.objects.filter(city__slug=slug).select_related("owner").order_by("starts_on", "id")
    return [{"title": t.title, "owner": t.owner.username, "starts_on": t.starts_on.isoformat(),
             "bookings": await t.bookings.filter(status="confirmed").acount()} async for t in trips]
""", "a count query per trip"),
    row("trips-queries", "ch11.W020", "queries.py", """
from asgiref.sync import sync_to_async

def rows(slug):
    return [{"title": t.title, "owner": t.owner.username, "starts_on": t.starts_on.isoformat(),
             "bookings": t.bookings.filter(status="confirmed").count()}
            for t in Trip.objects.filter(city__slug=slug).order_by("starts_on", "id")]

async def city_trips(slug):
    return await sync_to_async(rows)(slug)
""", "N+1 inside sync_to_async"),
    row("trips-queries", "ch11.W021", "queries.py", """
async def city_trips(slug):
    trips = (Trip.objects.filter(city__slug=slug).select_related("owner")
             .annotate(n=Count("bookings")).order_by("starts_on", "id"))
    return [{"title": t.title, "owner": t.owner.username, "starts_on": t.starts_on.isoformat(),
             "bookings": t.n} async for t in trips]
""", "counts the cancelled bookings too"),
    row("trips-queries", "ch11.W021", "queries.py", """
async def city_trips(slug):
    trips = (Trip.objects.filter(city__slug=slug).select_related("owner")
             .annotate(n=Count("bookings", filter=Q(bookings__status="confirmed"))).order_by("-starts_on"))
    return [{"title": t.title, "owner": t.owner.username, "starts_on": t.starts_on.isoformat(),
             "bookings": t.n} async for t in trips]
""", "latest first"),
    row("trips-queries", "ch11.W021", "queries.py", """
async def city_trips(slug):
    trips = (Trip.objects.filter(city__slug=slug).select_related("owner")
             .annotate(n=Count("bookings", filter=Q(bookings__status="confirmed"))))
    return [{"title": t.title, "owner": t.owner.username, "starts_on": t.starts_on, "bookings": t.n}
            async for t in trips]
""", "the date object, not its ISO text"),
    row("trips-queries", "ch11.W021", "queries.py", """
async def city_trips(slug):
    trips = Trip.objects.filter(city__slug=slug).annotate(
        n=Count("bookings", filter=Q(bookings__status="confirmed")))
    return [{"title": t.title, "owner": t.owner_id, "starts_on": t.starts_on.isoformat(), "bookings": t.n}
            async for t in trips]
""", "the owner's id, not the username"),
    row("trips-queries", PASS, "queries.py", """
async def city_trips(slug):
    rows = (Trip.objects.filter(city__slug=slug).order_by("starts_on", "id")
            .values("title", "owner__username", "starts_on")
            .annotate(bookings=Count("bookings", filter=Q(bookings__status="confirmed"))))
    return [{"title": r["title"], "owner": r["owner__username"], "starts_on": str(r["starts_on"]),
             "bookings": r["bookings"]} async for r in rows]
""", "values() and annotate"),
    row("trips-queries", PASS, "queries.py", """
from django.db.models import Prefetch

async def city_trips(slug):
    trips = Trip.objects.filter(city__slug=slug).select_related("owner").prefetch_related(
        Prefetch("bookings", queryset=Booking.objects.filter(status="confirmed"), to_attr="confirmed_bookings"))
    return [{"title": t.title, "owner": t.owner.username, "starts_on": t.starts_on.isoformat(),
             "bookings": len(t.confirmed_bookings)} async for t in trips]
""", "a filtered Prefetch: two queries, Meta's ordering"),
]

# --- 3. cache --------------------------------------------------------------------------------------------
CACHE = [
    row("cache", "ch11.W030", "feeds.py", """
async def cached_feeds(slug, budget=BUDGET):
    return await city_feeds(slug, budget)
""", "no cache at all"),
    row("cache", "ch11.W031", "feeds.py", """
async def cached_feeds(slug, budget=BUDGET):
    key = f"feeds:{slug}"
    feeds = await cache.aget(key)
    if feeds is None:
        feeds = await city_feeds(slug, budget)
        await cache.aset(key, feeds, CACHE_SECONDS)
    return feeds
""", "the whole page's feeds under one key, failures included"),
    row("cache", "ch11.W031", "feeds.py", """
async def cached_feeds(slug, budget=BUDGET):
    keys = {s: cache_key(s, slug) for s in SERVICES}
    found = await cache.aget_many(keys.values())
    feeds = {s: found.get(k) for s, k in keys.items()}
    missing = [s for s, k in keys.items() if k not in found]
    if missing:
        fresh = await city_feeds(slug, budget, services=missing)
        feeds.update(fresh)
        await cache.aset_many({keys[s]: f for s, f in fresh.items()}, timeout=CACHE_SECONDS)
    return feeds
""", "None cached with the rest"),
    row("cache", "ch11.W032", "feeds.py", """
async def cached_feeds(slug, budget=BUDGET):
    keys = {s: cache_key(s, slug) for s in SERVICES}
    found = cache.get_many(keys.values())
    feeds = {s: found.get(k) for s, k in keys.items()}
    missing = [s for s, f in feeds.items() if f is None]
    if missing:
        fresh = await city_feeds(slug, budget, services=missing)
        feeds.update(fresh)
        cache.set_many({keys[s]: f for s, f in fresh.items() if f is not None}, timeout=CACHE_SECONDS)
    return feeds
""", "the sync cache API"),
    row("cache", "ch11.W033", "feeds.py", """
async def cached_feeds(slug, budget=BUDGET):
    keys = {s: cache_key(s, slug) for s in SERVICES}
    found = await cache.aget_many(keys.values())
    feeds = {s: found.get(k) for s, k in keys.items()}
    missing = [s for s, f in feeds.items() if f is None]
    if missing:
        fresh = await city_feeds(slug, budget, services=missing)
        feeds.update(fresh)
        await cache.aset_many({keys[s]: f for s, f in fresh.items() if f is not None}, timeout=None)
    return feeds
""", "timeout=None: kept forever"),
    row("cache", "ch11.W033", "feeds.py", """
async def cached_feeds(slug, budget=BUDGET):
    feeds = {}
    for service in SERVICES:
        feeds[service] = await cache.aget(cache_key(service, slug))
    missing = [s for s, f in feeds.items() if f is None]
    if missing:
        for service, feed in (await city_feeds(slug, budget, services=missing)).items():
            feeds[service] = feed
            if feed is not None:
                await cache.aset(cache_key(service, slug), feed)
    return feeds
""", "the cache's default timeout (300 s)"),
    row("cache", "ch11.W035", "feeds.py", """
async def cached_feeds(slug, budget=BUDGET):
    keys = {s: f"feed:{s}" for s in SERVICES}
    found = await cache.aget_many(keys.values())
    feeds = {s: found.get(k) for s, k in keys.items()}
    missing = [s for s, f in feeds.items() if f is None]
    if missing:
        fresh = await city_feeds(slug, budget, services=missing)
        feeds.update(fresh)
        await cache.aset_many({keys[s]: f for s, f in fresh.items() if f is not None}, timeout=CACHE_SECONDS)
    return feeds
""", "keys without the city"),
    row("cache", "ch11.W034", "feeds.py", """
async def cached_feeds(slug, budget=BUDGET):
    keys = {s: cache_key(s, slug) for s in SERVICES}
    found = await cache.aget_many(keys.values())
    feeds = {s: found.get(k) for s, k in keys.items()}
    if None in feeds.values():
        feeds = await city_feeds(slug, budget)
        await cache.aset_many({keys[s]: f for s, f in feeds.items() if f is not None}, timeout=CACHE_SECONDS)
    return feeds
""", "everything fetched again when one is missing"),
    row("cache", "ck.W002", "feeds.py", """
async def cached_feeds(slug, budget=BUDGET):
    keys = {s: cache_key(s, slug) for s in SERVICES}
    found = cache.aget_many(keys.values())
    feeds = {s: found.get(k) for s, k in keys.items()}
    missing = [s for s, f in feeds.items() if f is None]
    if missing:
        fresh = await city_feeds(slug, budget, services=missing)
        feeds.update(fresh)
        await cache.aset_many({keys[s]: f for s, f in fresh.items() if f is not None}, timeout=CACHE_SECONDS)
    return feeds
""", "aget_many without await"),
    row("cache", PASS, "feeds.py", """
async def cached_feeds(slug, budget=BUDGET):
    feeds = {s: await cache.aget(cache_key(s, slug)) for s in SERVICES}
    missing = [s for s, f in feeds.items() if f is None]
    if missing:
        for service, feed in (await city_feeds(slug, budget, services=missing)).items():
            feeds[service] = feed
            if feed is not None:
                await cache.aset(cache_key(service, slug), feed, CACHE_SECONDS)
    return feeds
""", "aget and aset one key at a time"),
    row("cache", PASS, "feeds.py", """
from django.core.cache import caches

async def cached_feeds(slug, budget=BUDGET):
    store = caches["default"]
    feeds = {}
    for service in SERVICES:
        feeds[service] = await store.aget(cache_key(service, slug))
    fresh = await city_feeds(slug, budget, services=[s for s in SERVICES if feeds[s] is None]) \\
        if None in feeds.values() else {}
    await asyncio.gather(*(store.aset(cache_key(s, slug), f, timeout=CACHE_SECONDS - 5)
                           for s, f in fresh.items() if f is not None))
    return {**feeds, **fresh}
""", "caches['default'], aset in a gather, a shorter expiry"),
]

# --- 4. live updates ------------------------------------------------------------------------------------------
CONSUMER_START = """
class DashboardConsumer(AsyncJsonWebsocketConsumer):
    group = None
"""
LIVE = [
    row("live-updates", "ch11.W040", "consumers.py", """
class DashboardConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.group = group_name(self.scope["url_route"]["kwargs"]["slug"])
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def dashboard_update(self, event):
        await self.send_json({"event": "update", "city": event["city"], "feeds": event["feeds"]})
""", "every city accepted"),
    row("live-updates", "ch11.W040", "consumers.py", CONSUMER_START + """
    async def connect(self):
        await self.accept()
        slug = self.scope["url_route"]["kwargs"]["slug"]
        if not await City.objects.filter(slug=slug).aexists():
            await self.close(code=4404)
            return
        self.group = group_name(slug)
        await self.channel_layer.group_add(self.group, self.channel_name)

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def dashboard_update(self, event):
        await self.send_json({"event": "update", "city": event["city"], "feeds": event["feeds"]})
""", "accepted first, closed after"),
    row("live-updates", "ch11.W043", "consumers.py", CONSUMER_START + """
    async def connect(self):
        slug = self.scope["url_route"]["kwargs"]["slug"]
        if not await City.objects.filter(slug=slug).aexists():
            await self.close(code=4404)
            return
        self.group = "dashboards"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def dashboard_update(self, event):
        await self.send_json({"event": "update", "city": event["city"], "feeds": event["feeds"]})

async def publish(slug, feeds):
    await get_channel_layer().group_send("dashboards", {"type": "dashboard.update", "city": slug, "feeds": feeds})
""", "one group for every city"),
    row("live-updates", "ch11.W045", "consumers.py", CONSUMER_START + """
    async def connect(self):
        slug = self.scope["url_route"]["kwargs"]["slug"]
        if not await City.objects.filter(slug=slug).aexists():
            await self.close(code=4404)
            return
        await self.channel_layer.group_add(group_name(slug), self.channel_name)
        await self.accept()

    async def dashboard_update(self, event):
        await self.send_json({"event": "update", "city": event["city"], "feeds": event["feeds"]})
""", "never leaves the group"),
    row("live-updates", "ch11.W048", "consumers.py", CONSUMER_START + """
    async def connect(self):
        slug = self.scope["url_route"]["kwargs"]["slug"]
        if not await City.objects.filter(slug=slug).aexists():
            await self.close(code=4404)
            return
        self.group = group_name(slug)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def update(self, event):
        await self.send_json({"event": "update", "city": event["city"], "feeds": event["feeds"]})
""", "a handler named update for type dashboard.update"),
    row("live-updates", "ch11.W046", "consumers.py", CONSUMER_START + """
    async def connect(self):
        slug = self.scope["url_route"]["kwargs"]["slug"]
        if not await City.objects.filter(slug=slug).aexists():
            await self.close(code=4404)
            return
        self.group = group_name(slug)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def dashboard_update(self, event):
        await self.send_json(event)
""", "the group message sent as it is"),
    row("live-updates", "ck.W002", "consumers.py", """
async def publish(slug, feeds):
    get_channel_layer().group_send(group_name(slug), {"type": "dashboard.update", "city": slug, "feeds": feeds})
""", "group_send without await"),
    row("live-updates", "ck.E005", "consumers.py", """
from asgiref.sync import async_to_sync

async def publish(slug, feeds):
    async_to_sync(get_channel_layer().group_send)(
        group_name(slug), {"type": "dashboard.update", "city": slug, "feeds": feeds})
""", "async_to_sync inside async code"),
    row("live-updates", PASS, "consumers.py", """
class DashboardConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.city = self.scope["url_route"]["kwargs"]["slug"]
        self.joined = await City.objects.filter(slug=self.city).aexists()
        if not self.joined:
            return await self.close(4404)
        await self.channel_layer.group_add(group_name(self.city), self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if self.joined:
            await self.channel_layer.group_discard(group_name(self.city), self.channel_name)

    async def dashboard_update(self, event):
        await self.send_json(content={key: event[key] for key in ("city", "feeds")} | {"event": "update"})

async def publish(slug, feeds):
    layer = get_channel_layer()
    await layer.group_send(group_name(slug), {"type": "dashboard_update", "city": slug, "feeds": feeds})
""", "a dashboard_update type, close(4404) positional"),
    row("live-updates", PASS, "consumers.py", """
import json
from channels.generic.websocket import AsyncWebsocketConsumer

class DashboardConsumer(AsyncWebsocketConsumer):
    group = None

    async def connect(self):
        slug = self.scope["url_route"]["kwargs"]["slug"]
        try:
            await City.objects.aget(slug=slug)
        except City.DoesNotExist:
            await self.close(code=4404)
            return
        self.group = group_name(slug)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def dashboard_update(self, event):
        await self.send(text_data=json.dumps({"event": "update", "city": event["city"], "feeds": event["feeds"]}))
""", "AsyncWebsocketConsumer with json.dumps"),
]

# --- 5. background refresh ---------------------------------------------------------------------------------------
REFRESH = [
    row("background-refresh", "ch11.W050", "tasks.py", """
async def refresh_city(slug):
    feeds = await city_feeds(slug, BUDGET)
    await cache.aset_many({cache_key(s, slug): f for s, f in feeds.items() if f is not None}, timeout=CACHE_SECONDS)
    await publish(slug, feeds)
    return feeds
""", "a plain async function, no @task"),
    row("background-refresh", "ch11.W051", "tasks.py", """
from .feeds import cached_feeds

@task
async def refresh_city(slug):
    feeds = await cached_feeds(slug)
    await publish(slug, feeds)
    return feeds
""", "refreshed through the cache"),
    row("background-refresh", "ch11.W052", "tasks.py", """
@task
async def refresh_city(slug):
    feeds = await city_feeds(slug, BUDGET)
    await publish(slug, feeds)
    return feeds
""", "the fresh feeds not cached"),
    row("background-refresh", "ch11.W053", "tasks.py", """
@task
async def refresh_city(slug):
    feeds = await city_feeds(slug, BUDGET)
    await cache.aset_many({cache_key(s, slug): f for s, f in feeds.items() if f is not None}, timeout=CACHE_SECONDS)
    return feeds
""", "nobody told"),
    row("background-refresh", "ch11.W053", "tasks.py", """
@task
async def refresh_city(slug):
    feeds = await city_feeds(slug, BUDGET)
    await cache.aset_many({cache_key(s, slug): f for s, f in feeds.items() if f is not None}, timeout=CACHE_SECONDS)
    publish(slug, feeds)
    return feeds
""", "publish without await"),
    row("background-refresh", "ch11.W054", "tasks.py", """
from asgiref.sync import async_to_sync

@task
async def refresh_city(slug):
    feeds = await city_feeds(slug, BUDGET)
    await cache.aset_many({cache_key(s, slug): f for s, f in feeds.items() if f is not None}, timeout=CACHE_SECONDS)
    async_to_sync(publish)(slug, feeds)
    return feeds
""", "async_to_sync inside the async task"),
    row("background-refresh", "ch11.W055", "tasks.py", """
@task
async def refresh_city(slug):
    feeds = await city_feeds(slug, BUDGET)
    await cache.aset_many({cache_key(s, slug): f for s, f in feeds.items()}, timeout=CACHE_SECONDS)
    await publish(slug, feeds)
    return feeds
""", "None stored for the failed feed"),
    row("background-refresh", PASS, "tasks.py", """
from asgiref.sync import async_to_sync

@task
def refresh_city(slug):
    feeds = async_to_sync(city_feeds)(slug, BUDGET)
    cache.set_many({cache_key(s, slug): f for s, f in feeds.items() if f is not None}, CACHE_SECONDS)
    async_to_sync(publish)(slug, feeds)
    return feeds
""", "a sync task with async_to_sync"),
    row("background-refresh", PASS, "tasks.py", """
@task(priority=10)
async def refresh_city(slug):
    feeds = await city_feeds(slug, budget=BUDGET)
    await publish(slug, feeds)
    for service, feed in feeds.items():
        if feed is not None:
            await cache.aset(cache_key(service, slug), feed, timeout=CACHE_SECONDS)
    return feeds
""", "published first, cached one by one"),
]

# --- 6. the tests the learner writes --------------------------------------------------------------------------------
RIGHT_TEST = """
async def test_dashboard(site):
    page = await site.client.get("/dashboard/lisbon/")
    assert page.status_code == 200
    assert set(page.json()["feeds"]) == {"weather", "flights", "hotels"}
    assert None not in page.json()["feeds"].values()
    assert (await site.client.get("/dashboard/atlantis/")).status_code == 404
    site.api.configure(fail="flights")
    page = await site.client.get("/dashboard/kyoto/")
    assert page.status_code == 200 and page.json()["feeds"]["flights"] is None
    site.api.configure(fail=())
    assert (await site.client.get("/dashboard/kyoto/")).json()["feeds"]["flights"] is not None
    site.api.configure(latency={"hotels": 2.5})
    assert (await site.client.get("/dashboard/oslo/")).json()["feeds"]["hotels"] is None
    socket = site.socket("hanoi")
    assert (await socket.connect())[0]
    assert (await site.client.post("/dashboard/hanoi/refresh/")).status_code == 202
    assert (await socket.receive_json_from(timeout=3))["event"] == "update"
    await socket.disconnect()
"""


NO_404 = """
async def dashboard(request, slug):
    city = await City.objects.filter(slug=slug).afirst()
    feeds, trips = await asyncio.gather(cached_feeds(slug), city_trips(slug))
    return JsonResponse({"city": getattr(city, "name", slug), "feeds": feeds, "trips": trips})
"""


def _without(test, *needles):
    """The right test with the lines holding any of these texts taken out."""
    return "\n".join(line for line in test.splitlines() if not any(n in line for n in needles))


TESTS = [
    learner_test("dashboard-tests", "ch11.W061", """
async def test_dashboard(site):
    page = await site.client.get("/dashboard/lisbon/")
    assert page.status_code == 200
    assert (await site.client.get("/dashboard/atlantis/")).status_code == 404
""", "the happy path only"),
    learner_test("dashboard-tests", "ch11.W060", """
async def test_dashboard(site):
    assert (await site.client.get("/dashboard/lisbon/")).status_code == 200
    site.api.configure(fail="flights")
    page = await site.client.get("/dashboard/lisbon/")
    assert page.status_code == 200 and page.json()["feeds"]["flights"] is None
""", "the failure set up after the city was cached"),
    learner_test("dashboard-tests", "ch11.W061", _without(RIGHT_TEST, "hotels\": 2.5", "oslo"), "no late feed"),
    learner_test("dashboard-tests", "ch11.W061", _without(RIGHT_TEST, "fail=())", "is not None"),
             "never checks that a failed feed comes back"),
    learner_test("dashboard-tests", "ch11.W061", _without(RIGHT_TEST, "socket", "refresh"), "no WebSocket"),
    learner_test("dashboard-tests", "ch11.W061", _without(RIGHT_TEST, "atlantis"), "no unknown city"),
    learner_test("dashboard-tests", "ck.W002", """
async def test_dashboard(site):
    page = site.client.get("/dashboard/lisbon/")
    assert page.status_code == 200
""", "client.get without await"),
    learner_test("dashboard-tests", "ck.W005", """
def test_dashboard(site):
    page = site.client.get("/dashboard/lisbon/")
    assert page.status_code == 200
""", "a sync test"),
    Case("dashboard-tests", "ch11.W062", "from tests.answers.test_ch11 import app_with\n"
         f"app = app_with({{'views.py': {NO_404!r}}})\n" + RIGHT_TEST,
         "a right test, and the learner's page forgets the 404"),
    learner_test("dashboard-tests", PASS, RIGHT_TEST, "the solution's test, shorter"),
    learner_test("dashboard-tests", PASS, """
import asyncio

async def page(site, city):
    response = await site.client.get(f"/dashboard/{city}/")
    return response.status_code, (response.json() if response.status_code == 200 else None)

async def test_dashboard(site):
    status, data = await page(site, "montreal")
    assert status == 200 and all(data["feeds"][s] for s in ("weather", "flights", "hotels"))
    assert (await page(site, "no-such-city"))[0] == 404
    site.api.configure(fail="hotels", latency={"weather": 3})
    status, data = await page(site, "cape-town")
    assert status == 200 and data["feeds"]["hotels"] is None and data["feeds"]["weather"] is None
    assert data["feeds"]["flights"]
    site.api.configure(fail=[], latency={"weather": 0.2})
    status, data = await page(site, "cape-town")
    assert data["feeds"]["hotels"] and data["feeds"]["weather"]
    ws = site.socket("reykjavik")
    await ws.connect()
    response = await site.client.post("/dashboard/reykjavik/refresh/")
    assert response.status_code == 202
    message = await asyncio.wait_for(ws.receive_json_from(timeout=5), 6)
    assert message["city"] == "reykjavik" and message["event"] == "update"
    await ws.disconnect()
""", "helpers, two failures at once, asyncio.wait_for"),
]

# --- 7. ship it -------------------------------------------------------------------------------------------------------
SHIP = [
    row("ship-it", "ch11.W074", "feeds.py", """
async def cached_feeds(slug, budget=BUDGET):
    return await city_feeds(slug, budget)
""", "no cache: every page goes to the network"),
    row("ship-it", "ch11.W073", "queries.py", """
import time

async def city_trips(slug):
    time.sleep(0.05)  # "just a little pause" left from debugging
    trips = (Trip.objects.filter(city__slug=slug).select_related("owner")
             .annotate(n=Count("bookings", filter=Q(bookings__status="confirmed"))).order_by("starts_on", "id"))
    return [{"title": t.title, "owner": t.owner.username, "starts_on": t.starts_on.isoformat(), "bookings": t.n}
            async for t in trips]
""", "a blocking sleep on every request"),
    row("ship-it", "ch11.W071", "feeds.py", """
async def city_feeds(slug, budget=BUDGET, services=SERVICES):
    async with aiohttp.ClientSession() as session:
        results = await asyncio.wait_for(asyncio.gather(*(fetch(session, s, slug) for s in services)), budget)
    return dict(zip(services, results))
""", "a failing feed is a 500"),
    row("ship-it", "ch11.W072", "consumers.py", CONSUMER_START + """
    async def connect(self):
        await self.accept()

    async def dashboard_update(self, event):
        await self.send_json({"event": "update", "city": event["city"], "feeds": event["feeds"]})
""", "the socket never joins the city's group"),
    row("ship-it", "ch11.W072", "tasks.py", """
async def refresh_city(slug):
    feeds = await city_feeds(slug, BUDGET)
    await publish(slug, feeds)
    return feeds
""", "refresh_city not a task: the refresh is a 500"),
    row("ship-it", "ch11.W070", "consumers.py", """
class DashboardConsumer(AsyncJsonWebsocketConsumer)
    pass
""", "a syntax error in a file"),
    row("ship-it", "ch11.W071", "queries.py", """
async def city_trips(slug):
    raise NotImplementedError()
""", "a milestone not written yet"),
    Case("ship-it", PASS, "from coursekit import capstone\napp = capstone.App(capstone.REFERENCE)\n",
         "the worked answer"),
    row("ship-it", PASS, "feeds.py", """
from trips.upstream import UpstreamError

async def one(session, service, slug, budget):
    try:
        return await asyncio.wait_for(fetch(session, service, slug), budget)
    except (UpstreamError, TimeoutError):
        return None

async def city_feeds(slug, budget=BUDGET, services=SERVICES):
    async with aiohttp.ClientSession() as session:
        results = await asyncio.gather(*(one(session, s, slug, budget) for s in services))
    return dict(zip(services, results))

async def cached_feeds(slug, budget=BUDGET):
    feeds = {s: await cache.aget(cache_key(s, slug)) for s in SERVICES}
    missing = [s for s, f in feeds.items() if f is None]
    if missing:
        for service, feed in (await city_feeds(slug, budget, services=missing)).items():
            feeds[service] = feed
            if feed is not None:
                await cache.aset(cache_key(service, slug), feed, CACHE_SECONDS)
    return feeds
""", "gather of wait_for, aget one key at a time"),
]

CASES = FAN_OUT + TRIPS + CACHE + LIVE + REFRESH + TESTS + SHIP


def test_every_exercise_has_its_rows():
    from coursekit.checks.ch11 import chapter

    for slug in chapter.exercises:
        rows = [case for case in CASES if case.slug == slug]
        assert sum(case.expect != PASS for case in rows) >= 5, slug
        assert sum(case.expect == PASS for case in rows) >= 2, slug


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_answer(runner, case):
    problem = verdict_problem(case, runner.judge(case))
    assert problem is None, problem


def teardown_module():
    shutil.rmtree(_FOLDER, ignore_errors=True)
