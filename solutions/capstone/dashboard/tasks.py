"""The refresh button's background work (milestone 5)."""
from django.core.cache import cache
from django.tasks import task

from .consumers import publish
from .feeds import BUDGET, CACHE_SECONDS, cache_key, city_feeds


@task
async def refresh_city(slug):
    """Fetch the city's feeds afresh (never from the cache), keep each one that arrived in the cache
    for the page, push them all to the open dashboards, and return them."""
    feeds = await city_feeds(slug, BUDGET)
    await cache.aset_many({cache_key(service, slug): feed for service, feed in feeds.items() if feed is not None},
                          timeout=CACHE_SECONDS)
    await publish(slug, feeds)
    return feeds
