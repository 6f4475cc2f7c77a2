"""A trip's room over WebSockets (chapter 06).

Everyone logged in who opens ws/trips/<id>/ joins the group `trip-<id>`. The room relays notes
between its members, says who joins and who leaves, and passes on booking changes that views
push to the group (trips/live_views.py).

What a client sends:   {"text": "See you at the station"}
What a client gets:    {"event": "join", "user": "bob"}
                       {"event": "message", "user": "bob", "text": "See you at the station"}
                       {"event": "booking", "reference": "HT0001", "status": "cancelled"}
                       {"event": "leave", "user": "bob"}
"""
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .models import Trip

# Close codes in the 4000-4999 range are the application's own (RFC 6455).
NOT_LOGGED_IN = 4401
NO_SUCH_TRIP = 4404


def group_name(trip_id):
    """The group of a trip's room. Group names: ASCII letters, digits, '-', '_', '.', under 100."""
    return f"trip-{trip_id}"


class TripRoomConsumer(AsyncJsonWebsocketConsumer):
    group = None

    async def connect(self):
        user = self.scope["user"]  # set by AuthMiddlewareStack from the session cookie
        if not user.is_authenticated:
            await self.close(code=NOT_LOGGED_IN)  # before accept(): the handshake is refused
            return
        trip_id = self.scope["url_route"]["kwargs"]["trip_id"]
        # The async ORM, with the city fetched in the same query: no lazy access later on.
        self.trip = await Trip.objects.select_related("city").filter(pk=trip_id).afirst()
        if self.trip is None:
            await self.close(code=NO_SUCH_TRIP)
            return
        self.username = user.username
        self.group = group_name(trip_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.channel_layer.group_send(self.group, {"type": "trip.join", "user": self.username})

    async def receive_json(self, content, **kwargs):
        text = str(content.get("text", "")).strip()
        if text:
            await self.channel_layer.group_send(
                self.group, {"type": "trip.message", "user": self.username, "text": text[:500]})

    async def disconnect(self, code):
        if self.group is None:  # refused at connect: never joined
            return
        await self.channel_layer.group_discard(self.group, self.channel_name)
        await self.channel_layer.group_send(self.group, {"type": "trip.leave", "user": self.username})

    # Group messages: "type": "trip.message" calls trip_message(), and so on ('.' becomes '_').
    async def trip_join(self, event):
        await self.send_json({"event": "join", "user": event["user"]})

    async def trip_message(self, event):
        await self.send_json({"event": "message", "user": event["user"], "text": event["text"]})

    async def trip_leave(self, event):
        await self.send_json({"event": "leave", "user": event["user"]})

    async def booking_changed(self, event):
        await self.send_json({"event": "booking", "reference": event["reference"], "status": event["status"]})
