"""The dashboard page and its refresh button (given: they call your functions)."""
import asyncio

from django.http import JsonResponse
from trips.models import City

from .feeds import cached_feeds
from .queries import city_trips
from .tasks import refresh_city


async def dashboard(request, slug):
    """GET /dashboard/<slug>/: the city, its feeds (None where a feed failed or was late), its trips."""
    city = await City.objects.filter(slug=slug).afirst()
    if city is None:
        return JsonResponse({"error": f"no city {slug!r}"}, status=404)
    # The feeds wait on the network, the trips on the database: both at once.
    feeds, trips = await asyncio.gather(cached_feeds(slug), city_trips(slug))
    return JsonResponse({"city": city.name, "feeds": feeds, "trips": trips})


async def refresh(request, slug):
    """POST /dashboard/<slug>/refresh/: fresh feeds fetched in the background, pushed to open pages."""
    if request.method != "POST":
        return JsonResponse({"error": "POST to refresh"}, status=405)
    if not await City.objects.filter(slug=slug).aexists():
        return JsonResponse({"error": f"no city {slug!r}"}, status=404)
    result = await refresh_city.aenqueue(slug)
    return JsonResponse({"task_id": result.id, "status": result.status}, status=202)


async def health(request):
    return JsonResponse({"ok": True})
