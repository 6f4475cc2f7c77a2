"""Views that push to a trip's room (chapter 06), and a small page that joins one.

A view is not a consumer: it reaches the room through the channel layer, by sending an event
to the trip's group. Every consumer in the group gets it and handles it ("type":
"booking.changed" calls TripRoomConsumer.booking_changed).
"""
import threading

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from .consumers import group_name
from .models import Booking, Trip


def _event(booking):
    return {"type": "booking.changed", "reference": booking.reference, "status": booking.status}


@require_POST
@login_required
async def cancel_booking(request, reference):
    """An async view: the ORM's a-methods, then `await group_send`."""
    user = await request.auser()
    booking = await Booking.objects.filter(reference=reference, trip__owner=user).afirst()
    if booking is None:
        return JsonResponse({"error": f"no booking {reference} on your trips"}, status=404)
    booking.status = Booking.Status.CANCELLED
    await booking.asave(update_fields=["status"])
    await get_channel_layer().group_send(group_name(booking.trip_id), _event(booking))
    return JsonResponse({"reference": booking.reference, "status": booking.status,
                         "thread": threading.current_thread().name})


@require_POST
@login_required
def cancel_booking_sync(request, reference):
    """A sync view: the sync ORM, then async_to_sync(group_send). Under ASGI this view runs on a
    worker thread with no event loop of its own, which is what async_to_sync needs."""
    booking = get_object_or_404(Booking, reference=reference, trip__owner=request.user)
    booking.status = Booking.Status.CANCELLED
    booking.save(update_fields=["status"])
    async_to_sync(get_channel_layer().group_send)(group_name(booking.trip_id), _event(booking))
    return JsonResponse({"reference": booking.reference, "status": booking.status,
                         "thread": threading.current_thread().name})


@login_required(login_url="/live/login/")
def room(request, trip_id):
    """A page that joins the trip's room: open it in two browsers, logged in as alice and bob."""
    trip = get_object_or_404(Trip.objects.select_related("city"), pk=trip_id)
    return render(request, "trips/room.html", {"trip": trip})
