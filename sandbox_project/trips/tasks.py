"""Tripboard's background tasks (chapter 07), for django.tasks.

A task is a function decorated with @task, in a module every process can import: the web
process enqueues it by its dotted path (`trips.tasks.trip_report`), a worker process imports
that path to run it. A function defined in a notebook lives in `__main__`, which a worker
cannot import.

Which backend runs a task is settings.TASKS (TRIPBOARD_TASKS_BACKEND in the sandbox):
Django's ImmediateBackend runs it inside the request that enqueues it, DummyBackend keeps it
and never runs it, and django_tasks_db's DatabaseBackend stores it in a table for
`manage.py db_worker`.
"""
import time
from decimal import Decimal

import aiohttp
from django.db.models import Sum
from django.tasks import task

from . import upstream
from .models import Booking, Trip

# The slow part of a report or an export (rendering a PDF, say), in seconds.
REPORT_SECONDS = 0.3
EXPORT_SECONDS = 0.4


@task
def trip_report(trip_id, seconds=REPORT_SECONDS):
    """A trip's confirmed bookings summed up. Slow on purpose: `seconds` stands for rendering."""
    trip = Trip.objects.select_related("city").get(pk=trip_id)
    time.sleep(seconds)
    bookings = trip.bookings.filter(status=Booking.Status.CONFIRMED)
    total = bookings.aggregate(total=Sum("amount"))["total"] or Decimal(0)
    return {"trip": trip.pk, "title": trip.title, "city": trip.city.name,
            "bookings": bookings.count(), "total_eur": str(total)}


@task
def bookings_export(trip_id, seconds=EXPORT_SECONDS):
    """A trip's bookings as CSV lines. Slow on purpose (`seconds`), like a big export."""
    trip = Trip.objects.get(pk=trip_id)
    time.sleep(seconds)
    lines = ["reference,kind,amount_eur,status"]
    lines += [f"{b.reference},{b.kind},{b.amount},{b.status}" for b in trip.bookings.order_by("reference")]
    return {"trip": trip.pk, "csv": "\n".join(lines)}


@task
def send_receipt(reference):
    """Work out the receipt email for a booking. An unknown reference fails (Booking.DoesNotExist)."""
    booking = Booking.objects.select_related("trip__owner").get(reference=reference)
    return {"reference": booking.reference, "to": booking.trip.owner.email, "amount_eur": str(booking.amount)}


@task
async def notify_partner(reference):
    """Tell the partner service (an upstream API) about a booking: an `async def` task."""
    async with aiohttp.ClientSession() as session:
        answer = await upstream.fetch(session, "partners", reference)
    return {"reference": reference, "partner": answer}
