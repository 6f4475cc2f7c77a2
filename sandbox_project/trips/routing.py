"""WebSocket URLs (chapter 06): the ASGI router in tripboard/asgi.py sends WebSockets here."""
from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/trips/<int:trip_id>/", consumers.TripRoomConsumer.as_asgi(), name="trip-room"),
]
