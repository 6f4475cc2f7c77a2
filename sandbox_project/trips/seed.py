"""Deterministic demo data: the same cities, users, trips and bookings every time."""
import datetime
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction

from .models import Booking, City, Trip

CITIES = [
    ("Lisbon", "lisbon", "Portugal"),
    ("Kyoto", "kyoto", "Japan"),
    ("Reykjavik", "reykjavik", "Iceland"),
    ("Cape Town", "cape-town", "South Africa"),
    ("Montreal", "montreal", "Canada"),
    ("Buenos Aires", "buenos-aires", "Argentina"),
    ("Oslo", "oslo", "Norway"),
    ("Hanoi", "hanoi", "Vietnam"),
]

# (username, password): sandbox-only accounts, handy for the auth lessons.
USERS = [("alice", "wonderland"), ("bob", "builder")]

TRIPS = [
    ("alice", "lisbon", "Pastéis and trams", "2027-03-01", 5),
    ("alice", "kyoto", "Temples in spring", "2027-04-02", 7),
    ("alice", "oslo", "Fjords by rail", "2027-06-10", 4),
    ("bob", "reykjavik", "Northern lights", "2027-01-15", 5),
    ("bob", "cape-town", "Table Mountain", "2027-02-20", 6),
    ("bob", "montreal", "Jazz festival", "2027-06-28", 3),
]


@transaction.atomic
def seed():
    """Create the demo data in an empty database. Returns a dict of counts."""
    User = get_user_model()
    cities = {slug: City.objects.create(name=name, slug=slug, country=country) for name, slug, country in CITIES}
    users = {name: User.objects.create_user(name, f"{name}@example.com", password) for name, password in USERS}
    for n, (user, city, title, start, days) in enumerate(TRIPS, start=1):
        starts_on = datetime.date.fromisoformat(start)
        trip = Trip.objects.create(
            owner=users[user], city=cities[city], title=title,
            starts_on=starts_on, ends_on=starts_on + datetime.timedelta(days=days),
        )
        Booking.objects.create(trip=trip, kind=Booking.Kind.FLIGHT, reference=f"FL{n:04d}", amount=Decimal(150 + 40 * n))
        Booking.objects.create(trip=trip, kind=Booking.Kind.HOTEL, reference=f"HT{n:04d}", amount=Decimal(90 * days))
    return {"cities": City.objects.count(), "users": User.objects.count(),
            "trips": Trip.objects.count(), "bookings": Booking.objects.count()}
