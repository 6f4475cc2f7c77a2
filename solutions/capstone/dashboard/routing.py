"""The dashboard's WebSocket address (given)."""
from django.urls import path

from .consumers import DashboardConsumer

websocket_urlpatterns = [
    path("ws/dashboard/<slug:slug>/", DashboardConsumer.as_asgi(), name="dashboard-live"),
]
