"""Everything a notebook starts registers how to stop it; `coursekit.shutdown()` walks the list.

    from coursekit import cleanup

    server = start_something()
    token = cleanup.register("my server", server.stop)    # a sync or an async callable
    ...
    cleanup.unregister(token)                             # stopped early by hand: forget it

Stops run newest first (a server registered after the upstream it calls stops before it).
A stop that fails is reported and the others still run.
"""
import inspect
import itertools
import threading

_lock = threading.Lock()
_counter = itertools.count(1)
_registry: dict[int, tuple[str, object]] = {}


def register(name, stop):
    """Remember `stop` (sync or async, no arguments); returns a token for unregister()."""
    with _lock:
        token = next(_counter)
        _registry[token] = (name, stop)
    return token


def unregister(token):
    with _lock:
        _registry.pop(token, None)


def pending():
    """Names of what is still registered, oldest first."""
    with _lock:
        return [name for name, _ in _registry.values()]


async def stop_all():
    """Run every registered stop, newest first; returns the problems as strings."""
    problems = []
    while True:
        with _lock:
            if not _registry:
                break
            token = max(_registry)
            name, stop = _registry.pop(token)
        try:
            result = stop()
            if inspect.isawaitable(result):
                await result
        except Exception as exc:  # one broken stop must not keep the others running
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
    return problems
