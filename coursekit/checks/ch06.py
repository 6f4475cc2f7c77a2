"""Chapter 06: real time with Channels.

Every check drives the learner's consumer (or view) in-process with channels.testing's
WebsocketCommunicator, through AllowedHostsOriginValidator and AuthMiddlewareStack, as the
sandbox's asgi.py does, with session cookies for the sandbox users; views are called with
Django's AsyncClient. Each run gets a fresh in-memory channel layer that records what was sent
to which group, so a wrong group name can be named in the verdict.
"""
import asyncio
import contextlib
import gc
import inspect
import json
import os
import random
import secrets
import warnings

from ..exercises import NOT_WRITTEN, UNAWAITED_USED, Chapter, Fail, Kind
from .common import as_default_layer, require_async, require_callable

chapter = Chapter("06", "Real time with Channels")

WAIT = 2.0      # seconds a message that should come may take (a busy machine is slow, never wrong)
QUIET = 0.4     # seconds of silence that count as "nothing arrived"

# --- nudges -----------------------------------------------------------------------------
NOT_A_CONSUMER = chapter.nudge(
    "W001", "not a consumer class",
    "`{name}` should be a class that subclasses AsyncJsonWebsocketConsumer (from channels.generic.websocket).")
SYNC_CONSUMER = chapter.nudge(
    "W002", "a sync consumer",
    "A sync consumer (WebsocketConsumer, JsonWebsocketConsumer) runs every handler on asgiref's one shared sync "
    "thread: one slow handler holds up every connection. Subclass AsyncJsonWebsocketConsumer and write `async def` "
    "handlers.")
ANON_ACCEPTED = chapter.nudge(
    "W003", "anonymous users let in",
    "Check `self.scope['user'].is_authenticated` in connect(), and refuse with `await self.close(code=4401)` "
    "before accepting.")
CLOSE_CODE = chapter.nudge(
    "W004", "refused with the wrong code",
    "Refuse with the code the task gives: `await self.close(code={code})`, before `accept()` (close() after "
    "accept() ends an open socket instead of refusing the handshake).")
NO_ANSWER = chapter.nudge(
    "W005", "neither accepted nor refused",
    "connect() must end with `await self.accept()` (let the client in) or `await self.close(code=...)` (refuse): "
    "the client was left waiting for the handshake.")
REFUSED_MEMBER = chapter.nudge(
    "W006", "a logged-in user refused",
    "A logged-in user for an existing {what} should be accepted: check the condition in connect() that closes.")
NO_JOIN = chapter.nudge(
    "W007", "joins not announced",
    "After accept(), send {{'type': ..., 'user': ...}} to the group with `await self.channel_layer.group_send(...)`"
    " and give the consumer the handler that type names; every member (the newcomer too) then gets "
    "{{'event': 'joined', 'user': ...}}.")
ECHO_ONLY = chapter.nudge(
    "W008", "a message answered, not broadcast",
    "send_json() answers only this consumer's own client. To reach everyone in the room, group_send() to the "
    "room's group; each member's handler then sends it to its client.")
ROOMS_LEAK = chapter.nudge(
    "W009", "rooms share a group",
    "Members of another room got this room's messages: build the group name from the room (`f\"city-{{slug}}\"`), "
    "not a fixed string.")
NO_LEAVE = chapter.nudge(
    "W010", "leaving not announced",
    "In disconnect(), group_send a 'left' event to the others (after group_discard, so the leaver is not sent "
    "it).")
NOT_DISCARDED = chapter.nudge(
    "W011", "a closed connection left in its group",
    "disconnect() must `await self.channel_layer.group_discard(group, self.channel_name)`: a dead channel left in "
    "the group keeps collecting every message for a day (the group expiry).")
HANDLER_NAME = chapter.nudge(
    "W012", "no handler for a message type",
    "A group message's 'type' names the handler: dots become underscores, so 'city.joined' calls "
    "`async def city_joined(self, event)`. The consumer had no method for the type shown under Got.")
UNAWAITED_SEND = chapter.nudge(
    "W013", "group_send never awaited",
    "`channel_layer.group_send(...)` is a coroutine: without `await` (in async code) or `async_to_sync(...)` "
    "(in sync code) nothing is sent.")
WRONG_DATA = chapter.nudge(
    "W014", "not what the task describes",
    "Compare what the client got with the task's example, key by key.")
WRONG_GROUP = chapter.nudge(
    "W015", "sent to the wrong group",
    "The trip's consumers listen on the group `trip-<trip id>` (trips.consumers.group_name(trip_id)): send there.")
WRONG_TYPE = chapter.nudge(
    "W016", "a type no handler has",
    "The trip room handles 'booking.added' with its method booking_added(): the type must turn into that name "
    "(dots become underscores).")
NOT_SERIALISABLE = chapter.nudge(
    "W017", "a message a real layer cannot carry",
    "Channel-layer messages cross processes in production (Redis): keep them to str, int, float, bool, None, "
    "lists and dicts. Send the amount as the string that was posted, not a Decimal.")
NOT_SAVED = chapter.nudge(
    "W018", "the booking not in the database",
    "Create the Booking (`await Booking.objects.acreate(trip=..., ...)`) before telling the room: the push is a "
    "nudge to reload, the database is the truth.")
UNKNOWN_TRIP = chapter.nudge(
    "W019", "an unknown trip",
    "For a trip that does not exist, answer 404 and send nothing: look it up first (afirst() gives None, "
    "aget() raises DoesNotExist).")
LAZY_RELATION = chapter.nudge(
    "W020", "a relation read lazily in a consumer",
    "`trip.city` or `trip.owner` (not fetched yet) runs a query the moment you read it, on the event loop's "
    "thread. Fetch them with the trip (`select_related('city', 'owner')`), or do the whole read in one sync "
    "function wrapped with `database_sync_to_async`.")
LAZY_QUERYSET = chapter.nudge(
    "W021", "a QuerySet evaluated in a consumer",
    "A QuerySet was evaluated on the event loop's thread (a plain `for`, list()). Use `[b async for b in qs]`, or "
    "return list(...) (not the QuerySet) from the function database_sync_to_async runs.")
NOT_OWNER = chapter.nudge(
    "W022", "another user's trip shown",
    "Only the trip's owner may see its snapshot: filter on `owner=self.scope['user']` and refuse the others with "
    "4404, as for a missing trip.")
MISSING_TRIP = chapter.nudge(
    "W023", "a missing trip not refused",
    "For a trip that does not exist (or is not the user's), refuse with `await self.close(code=4404)` instead of "
    "letting DoesNotExist end the consumer.")
TEST_FAILS_CORRECT = chapter.nudge(
    "W030", "the test fails on the correct consumer",
    "Your test failed against TripRoomConsumer, which is right. Read the error under Got: a wrong expected "
    "message, a message you did not read first (each member first hears its own join), or a missing await.")
LET_ANON = chapter.nudge(
    "W031", "the test lets in anonymous users",
    "A consumer that lets anonymous users in passed your test. Connect with `await room(trip)` (no user) and "
    "assert the result is `(False, 4401)`.")
LET_ECHO = chapter.nudge(
    "W032", "the test misses an echo-only room",
    "A consumer that answers only the sender passed your test. Have one member send a note and assert that "
    "*another* member receives it.")
LET_NO_LEAVE = chapter.nudge(
    "W033", "the test misses a silent leave",
    "A consumer that never tells the room who left passed your test. Disconnect one member and assert that the "
    "other receives {{'event': 'leave', 'user': ...}}.")
LET_ONE_ROOM = chapter.nudge(
    "W034", "the test misses rooms that leak",
    "A consumer that puts every trip in one group passed your test. Put a member in another trip's room and "
    "assert it receives nothing (`await communicator.receive_nothing()`) when the first room talks.")
NOT_A_TEST = chapter.nudge(
    "W035", "no test to run",
    "`test_trip_room` should be an `async def` function that takes `room` and asserts with it.")


# --- the machinery every check shares ------------------------------------------------------
_WARM = ("channels.testing", "channels.auth", "channels.routing", "channels.security.websocket",
         "channels.generic.websocket", "channels.db", "trips.consumers", "django.contrib.sessions.backends.db")


async def _warm_imports():
    """Import what the drivers use before anything is timed: a first import holds the GIL (it would look like
    a blocked loop)."""
    import importlib

    def load():
        for name in _WARM:
            importlib.import_module(name)

    await asyncio.to_thread(load)


def _recording_layer():
    from channels.layers import InMemoryChannelLayer

    class RecordingLayer(InMemoryChannelLayer):
        """The in-memory layer, noting every group_send (group, message)."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.sent = []

        async def group_send(self, group, message):
            self.sent.append((group, message))
            return await super().group_send(group, message)

    return RecordingLayer()


def fresh_layer():
    """A fresh recording layer as the default channel layer, for one run (the old one comes back)."""
    return as_default_layer(_recording_layer())


def _session_cookie(username):
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    user = get_user_model().objects.get(username=username)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"sessionid={session.session_key}"


def stack(route, consumer):
    """The learner's consumer behind the sandbox's own guards (origin, session, user)."""
    from channels.auth import AuthMiddlewareStack
    from channels.routing import URLRouter
    from channels.security.websocket import AllowedHostsOriginValidator
    from django.urls import path

    return AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter([path(route, consumer.as_asgi())])))


class Sockets:
    """Communicators opened during one run, all closed at the end whatever happened."""

    def __init__(self, app):
        self.app, self.opened, self.cookies = app, [], {}

    async def open(self, path, username=None):
        from channels.db import database_sync_to_async
        from channels.testing import WebsocketCommunicator

        headers = [(b"origin", b"http://127.0.0.1")]
        if username:
            if username not in self.cookies:
                self.cookies[username] = await database_sync_to_async(_session_cookie)(username)
            headers.append((b"cookie", self.cookies[username].encode()))
        communicator = WebsocketCommunicator(self.app, path, headers=headers)
        self.opened.append(communicator)
        return communicator

    async def close_all(self):
        for communicator in self.opened:
            if communicator._future is not None and not communicator.future.done():
                with contextlib.suppress(BaseException):
                    await communicator.disconnect(timeout=1)
            if communicator._future is not None and not communicator.future.done():
                communicator.future.cancel()
                with contextlib.suppress(BaseException):
                    await communicator.future
            elif communicator._future is not None:
                with contextlib.suppress(BaseException):
                    communicator.future.exception()  # retrieved: no "never retrieved" report


async def connect(communicator, what):
    try:
        return await communicator.connect(timeout=WAIT)
    except TimeoutError:
        raise Fail(f"{what}: accepted or refused", f"no answer to the handshake within {WAIT:g} s",
                   NO_ANSWER, kind=Kind.TIMEOUT) from None


async def _closed_after_accept(communicator, code):
    """Accepted, then closed at once with the refusal's code: a refusal in the wrong order."""
    try:
        message = await communicator.receive_output(timeout=QUIET)
    except BaseException:  # nothing came (a timeout), or the consumer ended with an error: not this mistake
        return
    if message.get("type") == "websocket.close":
        raise Fail(f"the handshake refused with code {code} (close() before accept())",
                   f"accepted, then closed with code {message.get('code')}", CLOSE_CODE.format(code=code))


async def expect(communicator, what, nudge):
    """The next JSON message, or a Fail that says what should have come."""
    try:
        return await communicator.receive_json_from(timeout=WAIT)
    except TimeoutError:
        raise Fail(what, f"nothing arrived within {WAIT:g} s", nudge) from None
    except AssertionError as error:  # a close or a non-JSON frame instead of a message
        raise Fail(what, f"{error}", nudge) from None


async def silent(communicator):
    return await communicator.receive_nothing(timeout=QUIET)


class _Unawaited:
    """Notice a coroutine (group_send) created and never awaited during a run."""

    def __enter__(self):
        self._catch = warnings.catch_warnings(record=True)
        self.caught = self._catch.__enter__()
        warnings.simplefilter("always")
        return self

    def found(self):
        gc.collect()
        return [str(w.message) for w in self.caught if "was never awaited" in str(w.message)]

    def __exit__(self, exc_type, exc, tb):
        unawaited = self.found() if exc_type is not None and issubclass(exc_type, Fail) else []
        self._catch.__exit__(exc_type, exc, tb)
        if unawaited:
            raise Fail("every group_send awaited", unawaited[0], UNAWAITED_SEND, kind=Kind.UNAWAITED) from exc
        return False


def require_consumer(cls, name):
    from channels.consumer import AsyncConsumer, SyncConsumer

    if not (inspect.isclass(cls) and issubclass(cls, AsyncConsumer)):
        raise Fail(f"`{name}` a consumer class", f"{type(cls).__name__}: {cls!r}", NOT_A_CONSUMER.format(name=name))
    if issubclass(cls, SyncConsumer):
        raise Fail(f"`{name}` an async consumer", f"a sync consumer ({', '.join(c.__name__ for c in cls.__mro__[1:3])})",
                   SYNC_CONSUMER)


def _frames(exc):
    tb, frames = exc.__traceback__, []
    while tb is not None:
        frames.append(tb)
        tb = tb.tb_next
    return frames


@chapter.explainer
def explain(exc, what):
    """Chapter 06's reading of an error raised by learner code."""
    from django.core.exceptions import SynchronousOnlyOperation
    from django.db.models import query
    from django.db.models.fields import related_descriptors

    from ..errors import describe

    if isinstance(exc, Fail):  # raised by a check's own driver, on the learner's thread
        return exc

    def fail(nudge, kind=Kind.ERROR):
        return Fail(f"{what} to run without an error", describe(exc, width=88), nudge, kind=kind, cause=exc)

    if isinstance(exc, ValueError) and str(exc).startswith("No handler for message type"):
        return fail(HANDLER_NAME)
    if isinstance(exc, SynchronousOnlyOperation):
        frames = [(os.path.abspath(tb.tb_frame.f_code.co_filename), tb.tb_frame.f_code.co_name) for tb in _frames(exc)]
        if any(file == os.path.abspath(related_descriptors.__file__) for file, _ in frames):
            return fail(LAZY_RELATION)
        in_queryset = [name for file, name in frames if file == os.path.abspath(query.__file__)]
        if in_queryset and in_queryset[0] in ("__iter__", "__len__", "__bool__", "__getitem__"):
            return fail(LAZY_QUERYSET)  # a QuerySet evaluated, not a sync method called
        return None  # the common reading: the sync ORM in async code (ck.E004)
    return None


async def _two_cities():
    from trips.models import City

    cities = [c.slug async for c in City.objects.order_by("?")[:2]]
    return cities


# --- 1. a city chat room ---------------------------------------------------------------------
async def _drive_city_room(consumer):
    with _Unawaited(), fresh_layer() as layer:
        sockets = Sockets(stack("ws/cities/<slug:slug>/", consumer))
        try:
            return await _city_room_script(sockets, layer)
        finally:
            await sockets.close_all()


def _channels_in_groups(layer):
    return sum(len(members) for members in layer.groups.values())


async def _city_room_script(sockets, layer):
    here, there = await _two_cities()
    anonymous = await sockets.open(f"/ws/cities/{here}/")
    accepted, code = await connect(anonymous, "an anonymous user")
    if accepted:
        await _closed_after_accept(anonymous, 4401)
        raise Fail("an anonymous user refused with code 4401", "accepted", ANON_ACCEPTED)
    if code != 4401:
        raise Fail("an anonymous user refused with code 4401", f"refused with code {code}",
                   CLOSE_CODE.format(code=4401))

    nowhere = await sockets.open(f"/ws/cities/atlantis-{secrets.token_hex(2)}/", "alice")
    accepted, code = await connect(nowhere, "alice, for a city that does not exist")
    if accepted or code != 4404:
        raise Fail("a city that does not exist refused with code 4404",
                   "accepted" if accepted else f"refused with code {code}", CLOSE_CODE.format(code=4404))

    alice = await sockets.open(f"/ws/cities/{here}/", "alice")
    accepted, code = await connect(alice, "alice")
    if not accepted:
        raise Fail(f"alice let into the {here} room", f"refused with code {code}", REFUSED_MEMBER.format(what="city"))
    got = await expect(alice, "alice to hear her own join: {'event': 'joined', 'user': 'alice'}", NO_JOIN)
    if got != {"event": "joined", "user": "alice"}:
        raise Fail("{'event': 'joined', 'user': 'alice'}", got, WRONG_DATA)

    bob = await sockets.open(f"/ws/cities/{here}/", "bob")
    await connect(bob, "bob")
    joined = {"event": "joined", "user": "bob"}
    for who, communicator in (("bob", bob), ("alice", alice)):
        got = await expect(communicator, f"{who} to hear bob join: {joined}", NO_JOIN)
        if got != joined:
            raise Fail(joined, got, WRONG_DATA)

    elsewhere = await sockets.open(f"/ws/cities/{there}/", "bob")
    await connect(elsewhere, f"bob, in the {there} room")
    got = await expect(elsewhere, "bob (in another room) to hear his own join", NO_JOIN)
    if not await silent(alice):
        raise Fail(f"alice (in {here}) to hear nothing of a join in {there}", "she heard it", ROOMS_LEAK)

    text = f"meet at {random.randint(1, 12)} by the {random.choice(['fountain', 'station', 'bridge'])}"
    await bob.send_json_to({"text": text})
    said = {"event": "said", "user": "bob", "text": text}
    heard_by_bob = await expect(bob, f"bob to get his own note back from the room: {said}", ECHO_ONLY)
    if heard_by_bob != said:
        raise Fail(said, heard_by_bob, WRONG_DATA)
    got = await expect(alice, f"alice to hear bob's note: {said}", ECHO_ONLY)
    if got != said:
        raise Fail(said, got, WRONG_DATA)
    if not await silent(elsewhere):
        raise Fail(f"bob's other connection (in {there}) to hear nothing of the {here} room", "it heard the note",
                   ROOMS_LEAK)

    before = _channels_in_groups(layer)
    await bob.disconnect(timeout=WAIT)
    left = {"event": "left", "user": "bob"}
    got = await expect(alice, f"alice to hear that bob left: {left}", NO_LEAVE)
    if got != left:
        raise Fail(left, got, WRONG_DATA)
    if _channels_in_groups(layer) != before - 1:
        raise Fail("bob's channel taken out of the group when he disconnected", "it is still in the group",
                   NOT_DISCARDED)
    await alice.disconnect(timeout=WAIT)
    await elsewhere.disconnect(timeout=WAIT)
    return True


@chapter.exercise(
    "city-room", "A city chat room",
    needs=["CityRoomConsumer"],
    hints=[
        "Start from TripRoomConsumer in trips/consumers.py (the lesson prints it): the same shape, with a city "
        "slug instead of a trip id, and the task's event names.",
        "connect(): refuse anonymous users (4401) and unknown cities (4404, `await City.objects.filter(slug=slug)"
        ".aexists()`) before accept(); then group_add, accept(), and group_send a join event.",
        "disconnect(): if the consumer joined, group_discard first, then group_send {'type': 'city.left', 'user': "
        "...}; and a handler `async def city_left(self, event): await self.send_json({'event': 'left', ...})`.",
    ],
    timeout=20,
)
async def check_city_room(ctx, CityRoomConsumer):
    require_consumer(CityRoomConsumer, "CityRoomConsumer")
    await _warm_imports()
    await ctx.call(_drive_city_room, CityRoomConsumer, what="your consumer", allow_block=0.25)
    return "Anonymous users and unknown cities refused, rooms kept apart, joins, notes and leaves heard by all."


# --- 2. a view that pushes a new booking to its trip's room ----------------------------------
def _booking_rows(reference):
    from trips.models import Booking

    return list(Booking.objects.filter(reference=reference).values("trip_id", "kind", "amount"))


def _trip_ids():
    from trips.models import Trip

    rows = list(Trip.objects.values_list("pk", "owner_id", "city_id"))
    random.shuffle(rows)
    # The target's id must differ from its owner's and city's ids, or a group named after the wrong one passes.
    target = next(pk for pk, owner, city in rows if pk not in (owner, city))
    other = next(pk for pk, _, _ in rows if pk != target)
    return target, other


def _delete_bookings(references):
    from trips.models import Booking

    Booking.objects.filter(reference__in=references).delete()


async def _drive_add_booking(view):
    from channels.consumer import get_handler_name
    from channels.db import database_sync_to_async
    from django.core.exceptions import ObjectDoesNotExist
    from django.db import IntegrityError
    from django.test import AsyncClient
    from django.urls import path

    from ..routes import mounted

    target, other = await database_sync_to_async(_trip_ids)()
    reference = f"CK{secrets.token_hex(3).upper()}"
    amount = f"{random.randint(40, 900)}.{random.randint(10, 99)}"
    kind = random.choice(["flight", "hotel"])
    client = AsyncClient()
    with _Unawaited(), fresh_layer() as layer, mounted(path("ck06/trips/<int:trip_id>/bookings/", view)):
        try:
            listeners = {}
            for trip_id in (target, other):
                listeners[trip_id] = await layer.new_channel()
                await layer.group_add(f"trip-{trip_id}", listeners[trip_id])
            response = await client.post(f"/ck06/trips/{target}/bookings/",
                                         {"reference": reference, "kind": kind, "amount": amount})
            if not hasattr(response, "status_code"):
                raise Fail("the view to return an HttpResponse", f"{type(response).__name__}", WRONG_DATA)
            if response.status_code != 201:
                raise Fail("HTTP 201 for a new booking", f"HTTP {response.status_code}: "
                           f"{response.content[:120].decode(errors='replace')}", WRONG_DATA)
            rows = await database_sync_to_async(_booking_rows)(reference)
            if not rows or rows[0]["trip_id"] != target or rows[0]["kind"] != kind or str(rows[0]["amount"]) != amount:
                raise Fail(f"a {kind} booking {reference} of {amount} on trip {target} in the database",
                           f"{rows or 'no such booking'}", NOT_SAVED)
            # group_send has delivered to every member's queue by the time it returns: the view has answered,
            # so what it sent is there now, and a missing message is not late but never sent.
            groups = sorted({group for group, _ in layer.sent})
            if f"trip-{target}" not in groups:
                raise Fail(f"a message to the group trip-{target}",
                           f"group_send to {groups}" if groups else "nothing sent to any group",
                           WRONG_GROUP if groups else UNAWAITED_SEND)
            async with asyncio.timeout(WAIT):
                message = await layer.receive(listeners[target])
            try:
                json.dumps(message)
            except TypeError as error:
                raise Fail("a message of plain values", f"{error}", NOT_SERIALISABLE) from None
            if not isinstance(message.get("type"), str) or get_handler_name(message) != "booking_added":
                raise Fail("'type': 'booking.added'", f"'type': {message.get('type')!r}", WRONG_TYPE)
            want = {"type": message["type"], "reference": reference, "kind": kind, "amount": amount}
            if {key: message.get(key) for key in want} != want:
                raise Fail(f"{want}", f"{message}", WRONG_DATA)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(QUIET):
                    leaked = await layer.receive(listeners[other])
                    raise Fail(f"nothing sent to trip {other}'s group", f"{leaked}", WRONG_GROUP)

            layer.sent.clear()
            missing = f"CK{secrets.token_hex(3).upper()}"
            try:
                nowhere = await client.post("/ck06/trips/987654/bookings/", {"reference": missing, "kind": kind,
                                                                             "amount": amount})
            except ObjectDoesNotExist as error:
                raise Fail("HTTP 404 for a trip that does not exist", f"{type(error).__name__}: {error}",
                           UNKNOWN_TRIP, kind=Kind.ERROR, cause=error) from None
            except IntegrityError as error:
                raise Fail("HTTP 404 for a trip that does not exist", f"{type(error).__name__}: {error}",
                           UNKNOWN_TRIP, kind=Kind.ERROR, cause=error) from None
            if getattr(nowhere, "status_code", None) != 404 or layer.sent:
                raise Fail("HTTP 404 and nothing sent for a trip that does not exist",
                           f"HTTP {getattr(nowhere, 'status_code', '?')}, {len(layer.sent)} group message(s)",
                           UNKNOWN_TRIP)
            return True
        finally:
            await database_sync_to_async(_delete_bookings)([reference])


@chapter.exercise(
    "push-booking", "A view that tells the trip's room about a new booking",
    needs=["add_booking"],
    hints=[
        "Look the trip up first (`await Trip.objects.filter(pk=trip_id).afirst()`), answer 404 if it is None, then "
        "create the booking with `await Booking.objects.acreate(...)`.",
        "Then `await get_channel_layer().group_send(group_name(trip_id), {...})`, with 'type': 'booking.added' and "
        "the posted reference, kind and amount (as the posted strings).",
        "In a sync view the same call is `async_to_sync(get_channel_layer().group_send)(...)`; in an async view, "
        "async_to_sync raises: await instead.",
    ],
    timeout=20,
)
async def check_push_booking(ctx, add_booking):
    require_callable(add_booking, "add_booking")
    await _warm_imports()
    await ctx.call(_drive_add_booking, add_booking, what="POST to your view", allow_block=0.25)
    return "The booking is saved first, then the trip's room (and only that room) hears about it."


# --- 3. a snapshot consumer that reads related objects ----------------------------------------
def _snapshot_fixture():
    """Alice's and bob's trips, one random booking of each flipped to cancelled (undone afterwards)."""
    from trips.models import Booking, Trip

    trips = {}
    for username in ("alice", "bob"):
        trip = random.choice(list(Trip.objects.filter(owner__username=username).select_related("city", "owner")))
        flipped = random.choice(list(trip.bookings.all()))
        Booking.objects.filter(pk=flipped.pk).update(status="cancelled")
        trips[username] = (trip.pk, flipped.pk, {
            "trip": trip.title, "city": trip.city.name, "owner": trip.owner.username,
            "bookings": [{"reference": b.reference, "kind": b.kind, "status": b.status}
                         for b in trip.bookings.order_by("reference")]})
    return trips


def _undo_snapshot_fixture(trips):
    from trips.models import Booking

    Booking.objects.filter(pk__in=[flipped for _, flipped, _ in trips.values()]).update(status="confirmed")


async def _connect_or_missing(communicator, what):
    from django.core.exceptions import ObjectDoesNotExist

    try:
        return await connect(communicator, what)
    except ObjectDoesNotExist as error:
        raise Fail(f"{what}: refused with code 4404", f"{type(error).__name__}: {error}", MISSING_TRIP,
                   kind=Kind.ERROR, cause=error) from None


async def _drive_snapshot(consumer):
    from channels.db import database_sync_to_async

    trips = await database_sync_to_async(_snapshot_fixture)()
    try:
        with fresh_layer():
            sockets = Sockets(stack("ws/trips/<int:trip_id>/snapshot/", consumer))
            try:
                alice_trip, bob_trip = trips["alice"][0], trips["bob"][0]
                anonymous = await sockets.open(f"/ws/trips/{alice_trip}/snapshot/")
                accepted, code = await connect(anonymous, "an anonymous user")
                if accepted:
                    await _closed_after_accept(anonymous, 4401)
                if accepted or code != 4401:
                    raise Fail("an anonymous user refused with code 4401",
                               "accepted" if accepted else f"refused with code {code}",
                               ANON_ACCEPTED if accepted else CLOSE_CODE.format(code=4401))
                for username, (trip_id, _, want) in trips.items():
                    mine = await sockets.open(f"/ws/trips/{trip_id}/snapshot/", username)
                    accepted, code = await connect(mine, f"{username}, for her or his own trip")
                    if not accepted:
                        raise Fail(f"{username} let in to the snapshot of trip {trip_id}", f"refused with code {code}",
                                   REFUSED_MEMBER.format(what="trip of theirs"))
                    got = await expect(mine, f"the snapshot {want}", WRONG_DATA)
                    if got != want:
                        raise Fail(f"{want}", f"{got}", WRONG_DATA)
                    await mine.disconnect(timeout=WAIT)
                snooping = await sockets.open(f"/ws/trips/{alice_trip}/snapshot/", "bob")
                accepted, code = await _connect_or_missing(snooping, "bob, for alice's trip")
                if accepted:
                    raise Fail("bob refused (4404) at alice's trip", "accepted", NOT_OWNER)
                if code != 4404:
                    raise Fail("bob refused with code 4404 at alice's trip", f"refused with code {code}",
                               CLOSE_CODE.format(code=4404))
                missing = await sockets.open("/ws/trips/987654/snapshot/", "alice")
                accepted, code = await _connect_or_missing(missing, "alice, for a trip that does not exist")
                if accepted or code != 4404:
                    raise Fail("a trip that does not exist refused with code 4404",
                               "accepted" if accepted else f"refused with code {code}", MISSING_TRIP)
                return True
            finally:
                await sockets.close_all()
    finally:
        await database_sync_to_async(_undo_snapshot_fixture)(trips)


@chapter.exercise(
    "trip-snapshot", "A consumer that sends a trip with its city, owner and bookings",
    needs=["TripSnapshotConsumer"],
    hints=[
        "Anonymous: close(code=4401). Then look the trip up for this user only: "
        "`Trip.objects.filter(pk=trip_id, owner=user)`; None means 4404.",
        "Reading `trip.city.name` on a trip fetched without its city runs a query in async code: add "
        "`.select_related('city', 'owner')`, and read the bookings with `[b async for b in "
        "trip.bookings.order_by('reference')]`.",
        "Or put all the reading in one sync method decorated with `@database_sync_to_async` that returns a plain "
        "dict, and `await` it from connect().",
    ],
    timeout=20,
)
async def check_trip_snapshot(ctx, TripSnapshotConsumer):
    require_consumer(TripSnapshotConsumer, "TripSnapshotConsumer")
    await _warm_imports()
    await ctx.call(_drive_snapshot, TripSnapshotConsumer, what="your consumer", allow_block=0.25)
    return "Everything the snapshot needs was fetched up front, and only the owner gets it."


# --- 4. write the test: the learner's test against the right consumer and broken ones -----------
def _broken_consumers():
    from trips.consumers import TripRoomConsumer
    from trips.models import Trip

    class LetsAnyoneIn(TripRoomConsumer):
        async def connect(self):
            user = self.scope["user"]
            if not user.is_authenticated:
                trip_id = self.scope["url_route"]["kwargs"]["trip_id"]
                self.username, self.group = "anonymous", f"trip-{trip_id}"
                await self.channel_layer.group_add(self.group, self.channel_name)
                await self.accept()
                await self.channel_layer.group_send(self.group, {"type": "trip.join", "user": self.username})
                return
            await super().connect()

    class AnswersOnlyTheSender(TripRoomConsumer):
        async def receive_json(self, content, **kwargs):
            text = str(content.get("text", "")).strip()
            if text:
                await self.trip_message({"type": "trip.message", "user": self.username, "text": text[:500]})

    class LeavesSilently(TripRoomConsumer):
        async def disconnect(self, code):
            if self.group is not None:
                await self.channel_layer.group_discard(self.group, self.channel_name)

    class OneRoomForAll(TripRoomConsumer):
        async def connect(self):  # TripRoomConsumer's, with one fixed group name
            user = self.scope["user"]
            if not user.is_authenticated:
                await self.close(code=4401)
                return
            if not await Trip.objects.filter(pk=self.scope["url_route"]["kwargs"]["trip_id"]).aexists():
                await self.close(code=4404)
                return
            self.username, self.group = user.username, "trips"
            await self.channel_layer.group_add(self.group, self.channel_name)
            await self.accept()
            await self.channel_layer.group_send(self.group, {"type": "trip.join", "user": self.username})

    return [("lets anonymous users in", LetsAnyoneIn, LET_ANON),
            ("answers only the sender", AnswersOnlyTheSender, LET_ECHO),
            ("never says who left", LeavesSilently, LET_NO_LEAVE),
            ("one room for every trip", OneRoomForAll, LET_ONE_ROOM)]


async def _run_learner_test(test, consumer):
    """Run the learner's test against one consumer: None if it passed, else the exception."""
    with fresh_layer():
        sockets = Sockets(stack("ws/trips/<int:trip_id>/", consumer))

        async def room(trip_id, user=None):
            return await sockets.open(f"/ws/trips/{trip_id}/", user)

        try:
            async with asyncio.timeout(12):
                result = test(room)
                if inspect.iscoroutine(result):
                    await result
            return None
        except (Exception, TimeoutError) as error:  # the test failed: what we want for broken consumers
            return error
        finally:
            await sockets.close_all()


async def _judge_learner_test(test):
    from trips.consumers import TripRoomConsumer

    from ..errors import describe

    error = await _run_learner_test(test, TripRoomConsumer)
    if isinstance(error, NotImplementedError):
        raise Fail("your test to run", "NotImplementedError: it has not been written yet", NOT_WRITTEN,
                   kind=Kind.MISSING, cause=error)
    if error is not None:
        if isinstance(error, (TypeError, AttributeError)) and "coroutine" in str(error):
            raise Fail("your test to pass against the correct consumer", describe(error, width=88), UNAWAITED_USED,
                       kind=Kind.UNAWAITED, cause=error)
        got = describe(error, width=88) if str(error) else f"{type(error).__name__} (with no message)"
        raise Fail("your test to pass against the correct TripRoomConsumer", got, TEST_FAILS_CORRECT,
                   kind=Kind.WRONG, cause=error)
    for name, broken, nudge in _broken_consumers():
        if await _run_learner_test(test, broken) is None:
            raise Fail(f"your test to fail against a consumer that {name}", "it passed", nudge)
    return True


@chapter.exercise(
    "room-test", "Write the test: catch four broken trip rooms",
    needs=["test_trip_room"],
    hints=[
        "Start with the anonymous case: `c = await room(lisbon.pk)`, `assert await c.connect() == (False, 4401)`.",
        "Each member first hears its own join. Connect alice and bob to one trip, read those joins, then have bob "
        "send {'text': ...} and assert alice receives {'event': 'message', 'user': 'bob', 'text': ...}.",
        "Put a third connection in another trip and assert `await other.receive_nothing()` after the note; then "
        "`await bob.disconnect()` and assert alice receives {'event': 'leave', 'user': 'bob'}.",
    ],
    timeout=60,
)
async def check_room_test(ctx, test_trip_room):
    await _warm_imports()
    if not callable(test_trip_room):
        raise Fail("`test_trip_room` a function", f"{type(test_trip_room).__name__}", NOT_A_TEST)
    require_async(test_trip_room, "test_trip_room")
    await ctx.call(_judge_learner_test, test_trip_room, what="your test")
    return "It passes against the right consumer and catches each of the four broken ones."
