"""Live updates: a WebSocket per open dashboard, and how to reach them all (milestone 4)."""
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer  # noqa: F401 - you will need it
from trips.models import City  # noqa: F401


def group_name(slug):
    """The channel-layer group of everyone watching city `slug`."""
    return f"dashboard-{slug}"


class DashboardConsumer(AsyncJsonWebsocketConsumer):
    """ws/dashboard/<slug>/: refused with 4404 for an unknown city; else a member of the city's
    group, sent {"event": "update", "city": slug, "feeds": ...} for every update published."""

    async def connect(self):
        raise NotImplementedError()


async def publish(slug, feeds):
    """Send `feeds` to every dashboard open on city `slug` (in this process or, with a shared
    channel layer, in any other)."""
    raise NotImplementedError()
