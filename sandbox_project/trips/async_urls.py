"""URLs of the async views, mounted under /async/ beside the sync ones (and one sync view to compare)."""
from django.urls import path

from . import async_views

urlpatterns = [
    path("ping/", async_views.ping, name="async-ping"),
    path("ping-sync/", async_views.ping_sync, name="async-ping-sync"),
    path("dashboard/<slug:slug>/", async_views.dashboard, name="async-dashboard"),
    path("shared/<slug:slug>/", async_views.shared_dashboard, name="async-shared-dashboard"),
    path("resilient/<slug:slug>/", async_views.resilient_dashboard, name="async-resilient"),
    path("cities/<slug:slug>/weather/", async_views.CityWeatherView.as_view(), name="async-city-weather"),
    path("overview/<slug:slug>/", async_views.city_overview, name="async-city-overview"),
    path("audited/<slug:slug>/", async_views.weather_with_audit, name="async-weather-with-audit"),
    path("countdown/", async_views.countdown, name="async-countdown"),
    path("countdown-sync/", async_views.countdown_sync, name="async-countdown-sync"),
    path("stream/<slug:slug>/", async_views.weather_stream, name="async-weather-stream"),
]
