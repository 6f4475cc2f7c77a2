"""A controlled slow query for chapter 05: an SQLite function that sleeps.

    from trips import slowdb
    slowdb.install()                       # every *new* connection gets `tripboard_sleep(ms)`
    await slowdb.slow_query(0.2).afirst()  # one City row, after 0.2 s inside the database

The function is registered on connection creation (Django's `connection_created`
signal), so it exists on every thread's connection, whichever thread opens it.
Connections opened before install() do not have it: close them first.
"""
import time

from django.db.backends.signals import connection_created
from django.db.models import Func, IntegerField, Value

FUNCTION = "tripboard_sleep"


def _sleep_ms(ms):
    time.sleep(ms / 1000)
    return ms


def add_to(connection):
    """Register the function on one open Django connection."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(FUNCTION, 1, _sleep_ms)


def _register(sender, connection, **kwargs):
    add_to(connection)


def install():
    """Register the function on every SQLite connection opened from now on (idempotent)."""
    connection_created.connect(_register, dispatch_uid="trips.slowdb")


def uninstall():
    connection_created.disconnect(dispatch_uid="trips.slowdb")


def slow_query(seconds, slug="kyoto"):
    """A QuerySet of one City that spends `seconds` inside the database when evaluated."""
    from .models import City

    return City.objects.filter(slug=slug).annotate(
        nap=Func(Value(round(seconds * 1000)), function=FUNCTION, output_field=IntegerField()))
