"""Live updates: a WebSocket per open dashboard, and how to reach them all (milestone 4)."""
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from trips.models import City


def group_name(slug):
    """The channel-layer group of everyone watching city `slug`."""
    return f"dashboard-{slug}"


class DashboardConsumer(AsyncJsonWebsocketConsumer):
    """ws/dashboard/<slug>/: refused with 4404 for an unknown city; else a member of the city's
    group, sent {"event": "update", "city": slug, "feeds": ...} for every update published."""

    group = None

    async def connect(self):
        slug = self.scope["url_route"]["kwargs"]["slug"]
        if not await City.objects.filter(slug=slug).aexists():
            await self.close(code=4404)
            return
        self.group = group_name(slug)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def dashboard_update(self, event):
        await self.send_json({"event": "update", "city": event["city"], "feeds": event["feeds"]})


async def publish(slug, feeds):
    """Send `feeds` to every dashboard open on city `slug` (in this process or, with a shared
    channel layer, in any other)."""
    await get_channel_layer().group_send(group_name(slug),
                                         {"type": "dashboard.update", "city": slug, "feeds": feeds})
