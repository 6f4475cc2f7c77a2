"""URLs of chapter 08's views, mounted under /pitfalls/."""
from django.urls import path

from . import pitfall_views

urlpatterns = [
    path("costs/blocking/", pitfall_views.trip_costs_blocking, name="pitfalls-costs-blocking"),
    path("costs/", pitfall_views.trip_costs, name="pitfalls-costs"),
    path("cards/<slug:slug>/", pitfall_views.city_card, name="pitfalls-city-card"),
    path("forecast/<slug:slug>/", pitfall_views.forecast, name="pitfalls-forecast"),
]
