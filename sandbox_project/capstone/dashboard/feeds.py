"""The upstream feeds of a city's dashboard: weather, flights and hotels.

Milestone 1: city_feeds, every feed at once within a time budget.
Milestone 3: cached_feeds, the same through Django's cache.
"""
import asyncio  # noqa: F401 - you will need these
import aiohttp  # noqa: F401
from django.core.cache import cache  # noqa: F401
from trips.upstream import SERVICES, fetch  # noqa: F401

BUDGET = 1.0         # seconds the page waits for its feeds, all together
CACHE_SECONDS = 30   # how long a fetched feed is served from the cache


def cache_key(service, slug):
    """Where a city's feed is kept in the cache (the page reads it, the refresh task writes it)."""
    return f"dashboard:{service}:{slug}"


async def city_feeds(slug, budget=BUDGET, services=SERVICES):
    """{service: its JSON, or None if it failed or was still running after `budget` seconds},
    for every service in `services`, all fetched at the same time."""
    raise NotImplementedError()


async def cached_feeds(slug, budget=BUDGET):
    """city_feeds(slug, budget) for the three SERVICES, through the cache: a feed fetched in the last
    CACHE_SECONDS costs no upstream call; a failed feed (None) is never cached."""
    raise NotImplementedError()
