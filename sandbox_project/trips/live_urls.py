"""URLs of chapter 06's views, mounted under /live/."""
from django.contrib.auth.views import LoginView
from django.urls import path

from . import live_views

urlpatterns = [
    path("login/", LoginView.as_view(template_name="trips/login.html"), name="live-login"),
    path("trips/<int:trip_id>/", live_views.room, name="live-room"),
    path("bookings/<str:reference>/cancel/", live_views.cancel_booking, name="live-cancel"),
    path("bookings/<str:reference>/cancel-sync/", live_views.cancel_booking_sync, name="live-cancel-sync"),
]
