"""A controlled slow query for chapter 05: an SQLite function that sleeps.

    from trips import slowdb
    slowdb.install()                       # every *new* connection gets `tripboard_sleep(ms)`
    await slowdb.slow_query(0.2).afirst()  # one City row, after 0.2 s inside the database
    await slowdb.anap(0.2)                 # the same nap, reported: {"thread": ..., "start": ..., "end": ...}
    City.objects.annotate(ran_on=slowdb.SqlThread())   # each row names the thread that ran the SQL

The functions are registered on connection creation (Django's `connection_created`
signal), so it exists on every thread's connection, whichever thread opens it.
Connections opened before install() do not have it: close them first.
"""
import json
import threading
import time

from django.db.backends.signals import connection_created
from django.db.models import CharField, Func, IntegerField, Value

FUNCTION = "tripboard_sleep"
TIMED_FUNCTION = "tripboard_timed_sleep"
THREAD_FUNCTION = "tripboard_thread"


def _sleep_ms(ms):
    time.sleep(ms / 1000)
    return ms


def _timed_sleep_ms(ms):
    """Sleep, then report (as JSON) which thread ran the SQL, and when (time.perf_counter())."""
    start = time.perf_counter()
    time.sleep(ms / 1000)
    return json.dumps({"thread": threading.current_thread().name, "start": start, "end": time.perf_counter()})


def _thread_name():
    return threading.current_thread().name


def add_to(connection):
    """Register the functions on one open Django connection."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(FUNCTION, 1, _sleep_ms)
        connection.connection.create_function(TIMED_FUNCTION, 1, _timed_sleep_ms)
        connection.connection.create_function(THREAD_FUNCTION, 0, _thread_name)


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


class SqlThread(Func):
    """`tripboard_thread()` in SQL: the name of the Python thread that runs the query."""

    function = THREAD_FUNCTION
    template = "%(function)s()"
    output_field = CharField()


def nap_query(seconds, slug="kyoto"):
    """A one-value QuerySet that sleeps `seconds` in the database and reports the thread and times (JSON)."""
    from .models import City

    return City.objects.filter(slug=slug).values_list(
        Func(Value(round(seconds * 1000)), function=TIMED_FUNCTION, output_field=CharField()), flat=True)


def nap(seconds):
    """Sync: one slow query; returns {"thread": name, "start": t0, "end": t1} as seen inside the database."""
    return json.loads(nap_query(seconds).get())


async def anap(seconds):
    """Async: the same through the a-method `aget()`."""
    return json.loads(await nap_query(seconds).aget())
