"""The dashboard's addresses (given). settings.py makes this the root URLconf of its server."""
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from . import views

urlpatterns = [
    path("dashboard/<slug:slug>/", views.dashboard, name="dashboard"),
    # An API called by scripts and tests, not a form: no CSRF token to send.
    path("dashboard/<slug:slug>/refresh/", csrf_exempt(views.refresh), name="dashboard-refresh"),
    path("health/", views.health),
]
