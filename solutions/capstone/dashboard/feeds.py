"""The upstream feeds of a city's dashboard: weather, flights and hotels.

Milestone 1: city_feeds, every feed at once within a time budget.
Milestone 3: cached_feeds, the same through Django's cache.
"""
import asyncio

import aiohttp
from django.core.cache import cache
from trips.upstream import SERVICES, fetch

BUDGET = 1.0         # seconds the page waits for its feeds, all together
CACHE_SECONDS = 30   # how long a fetched feed is served from the cache


def cache_key(service, slug):
    """Where a city's feed is kept in the cache (the page reads it, the refresh task writes it)."""
    return f"dashboard:{service}:{slug}"


async def city_feeds(slug, budget=BUDGET, services=SERVICES):
    """{service: its JSON, or None if it failed or was still running after `budget` seconds},
    for every service in `services`, all fetched at the same time."""
    async with aiohttp.ClientSession() as session:
        tasks = {service: asyncio.create_task(fetch(session, service, slug)) for service in services}
        done, late = await asyncio.wait(tasks.values(), timeout=budget)
        for task in late:
            task.cancel()  # past the budget: nobody waits for it any more
        if late:
            await asyncio.wait(late)  # cancelled tasks end quickly: let them, before the session closes
    feeds = {}
    for service, task in tasks.items():
        failed = task.cancelled() or task.exception() is not None  # exception(): retrieved, never logged
        feeds[service] = None if failed else task.result()
    return feeds


async def cached_feeds(slug, budget=BUDGET):
    """city_feeds(slug, budget) for the three SERVICES, through the cache: a feed fetched in the last
    CACHE_SECONDS costs no upstream call; a failed feed (None) is never cached."""
    keys = {service: cache_key(service, slug) for service in SERVICES}
    found = await cache.aget_many(keys.values())
    feeds = {service: found.get(key) for service, key in keys.items()}
    missing = [service for service, feed in feeds.items() if feed is None]
    if missing:
        fresh = await city_feeds(slug, budget, services=missing)
        feeds.update(fresh)
        await cache.aset_many({keys[s]: feed for s, feed in fresh.items() if feed is not None},
                              timeout=CACHE_SECONDS)
    return feeds
