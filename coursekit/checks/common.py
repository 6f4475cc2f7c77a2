"""Helpers every chapter's checks share: one place for each.

- require_callable / require_async: the learner's object is what the task asks for.
- find / close_coroutines / reject_unawaited: coroutines (or tasks) hidden in a returned value.
- upstream(): the notebook's upstream API, or a Fail that says how to start it.
- fresh_upstream(): a fixture (async with) that resets the knobs and the call log before, and
  waits for abandoned calls to settle and resets again after.
- calls_for / peak / overlap_report: what the upstream saw, as evidence of concurrency.
"""
import asyncio
import contextlib
import inspect

from ..exercises import NOT_ASYNC, NOT_CALLABLE, UNAWAITED_RESULT, Fail, Kind, nudge
from ..timing import Timeline

UPSTREAM_DOWN = nudge("ck.E008", "the upstream API is not running",
                      "Run the set-up cell at the top of the notebook (it starts the upstream API), then this check.")


def require_callable(fn, name):
    if not callable(fn):
        raise Fail(f"`{name}` to be a function", f"{type(fn).__name__}: {fn!r}", NOT_CALLABLE.format(name=name))


def require_async(fn, name):
    """`fn` must be an `async def` function (or a class whose instances are awaited: not here)."""
    require_callable(fn, name)
    if not inspect.iscoroutinefunction(fn):
        raise Fail(f"`{name}` defined with `async def`", f"a plain function ({type(fn).__name__})",
                   NOT_ASYNC.format(name=name))


def _items(value):
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, (list, tuple, set)):
        return list(value)
    return []


def find(value, test, depth=0):
    """The first object inside `value` (dicts, lists, tuples, sets; 5 levels) for which test() holds."""
    if test(value):
        return value
    if depth > 4:
        return None
    for item in _items(value):
        found = find(item, test, depth + 1)
        if found is not None:
            return found
    return None


def close_coroutines(value, depth=0):
    """Close every coroutine inside `value` (silences 'never awaited': the verdict says it)."""
    if inspect.iscoroutine(value):
        value.close()
        return
    if depth > 4:
        return
    for item in _items(value):
        close_coroutines(item, depth + 1)


def reject_unawaited(value, what):
    """Fail if a coroutine, task or future hides inside a returned value: a forgotten await."""
    hidden = find(value, inspect.isawaitable)
    if hidden is not None:
        close_coroutines(value)
        raise Fail(f"{what} to hold plain values", f"{type(hidden).__name__} objects, never awaited",
                   UNAWAITED_RESULT, kind=Kind.UNAWAITED)


def upstream():
    from .. import upstream as upstream_module

    api = upstream_module.current()
    if api is None or not api.running:
        raise Fail("the upstream API to be running", "it is not", UPSTREAM_DOWN, kind=Kind.MISSING)
    return api


async def settle(api, patience=3.0):
    """Wait until the server has finished (or cancelled) every call, so nothing spills into what
    is measured next."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while api.in_flight and loop.time() < deadline:
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def fresh_upstream(**knobs):
    """`async with fresh_upstream(latency={"hotels": 1.6}) as api:` default knobs plus these, an
    empty call log; afterwards, abandoned calls settle and the knobs go back to the defaults."""
    api = upstream()
    await settle(api)
    api.reset()
    if knobs:
        api.configure(**knobs)
    try:
        yield api
    finally:
        await settle(api)
        api.reset()


def calls_for(api, city):
    """The logged calls for one city, in the order they started."""
    return sorted((c for c in api.calls if c.city == city), key=lambda c: c.start)


def peak(calls):
    """Most of these calls in flight at the same instant."""
    timeline = Timeline()
    for call in calls:
        timeline.add(call.service, call.start, call.end)
    return timeline.peak_overlap()


def overlap_report(calls):
    if not calls:
        return "no calls"
    t0 = calls[0].start
    return ", ".join(f"{c.service} {c.start - t0:.2f}-{c.end - t0:.2f} s" for c in calls)


def on_a_loop():
    """Is this thread running an event loop right now (learner code called from async code)?"""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@contextlib.contextmanager
def as_default_layer(layer):
    """`layer` as Channels' default channel layer for one run; the old one comes back afterwards."""
    from channels.layers import channel_layers

    old = channel_layers.backends.get("default")
    channel_layers.backends["default"] = layer
    try:
        yield layer
    finally:
        if old is None:
            channel_layers.backends.pop("default", None)
        else:
            channel_layers.backends["default"] = old
