"""Tripboard's views. The sync ones are the starting point of the course."""
import threading
import time

from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render

from . import upstream
from .models import City


def home(request):
    return render(request, "trips/home.html", {"cities": City.objects.all()})


def health(request):
    return JsonResponse({"status": "ok"})


def city_list(request):
    cities = list(City.objects.values("name", "slug", "country"))
    return JsonResponse({"cities": cities})


def city_detail(request, slug):
    city = get_object_or_404(City, slug=slug)
    return JsonResponse({"name": city.name, "slug": city.slug, "country": city.country,
                         "trips": city.trips.count()})


def forecast(request, slug):
    """One upstream call: the weather for a city."""
    return JsonResponse(upstream.fetch_sync("weather", slug))


def dashboard(request, slug):
    """The classic slow page: three upstream services, called one after another."""
    started = time.perf_counter()
    data = {service: upstream.fetch_sync(service, slug) for service in upstream.SERVICES}
    data["city"] = slug
    data["elapsed"] = round(time.perf_counter() - started, 3)
    data["thread"] = threading.current_thread().name
    return JsonResponse(data)
