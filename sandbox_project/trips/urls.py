from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("health/", views.health, name="health"),
    path("cities/", views.city_list, name="city-list"),
    path("cities/<slug:slug>/", views.city_detail, name="city-detail"),
    path("forecast/<slug:slug>/", views.forecast, name="forecast"),
    path("dashboard/<slug:slug>/", views.dashboard, name="dashboard"),
    path("async/", include("trips.async_urls")),
    path("orm/", include("trips.orm_urls")),
    path("live/", include("trips.live_urls")),
    path("tasks/", include("trips.task_urls")),
    path("lab/", include("trips.lab_urls")),
    path("pitfalls/", include("trips.pitfall_urls")),
]
