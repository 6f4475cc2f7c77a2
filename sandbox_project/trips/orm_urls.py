from django.urls import path

from . import orm_views

urlpatterns = [
    path("ping/", orm_views.ping, name="orm-ping"),
    path("nap/", orm_views.nap, name="orm-nap"),
    path("dashboard/<str:username>/", orm_views.dashboard, name="orm-dashboard"),
    path("cities/<slug:slug>/", orm_views.city, name="orm-city"),
    path("trips/", orm_views.trip_page, name="orm-trips"),
    path("slow/", orm_views.slow, name="orm-slow"),
    path("slow/gather/", orm_views.slow_gather, name="orm-slow-gather"),
    path("whoami/", orm_views.whoami, name="orm-whoami"),
    path("login/", orm_views.login_view, name="orm-login"),
]
