"""The refresh button's background work (milestone 5)."""
from django.core.cache import cache  # noqa: F401 - you will need these
from django.tasks import task

from .consumers import publish  # noqa: F401
from .feeds import BUDGET, CACHE_SECONDS, cache_key, city_feeds  # noqa: F401


@task
async def refresh_city(slug):
    """Fetch the city's feeds afresh (never from the cache), keep each one that arrived in the cache
    for the page, push them all to the open dashboards, and return them. A django.tasks task."""
    raise NotImplementedError()
