"""The trips planned in a city, from the async ORM (milestone 2)."""
from django.db.models import Count, Q  # noqa: F401 - you may need these
from trips.models import Booking, Trip  # noqa: F401


async def city_trips(slug):
    """[{"title", "owner" (username), "starts_on" ("YYYY-MM-DD"), "bookings" (confirmed ones)}] for the
    trips in city `slug`, earliest first: in one query, however many trips there are."""
    raise NotImplementedError()
