"""coursekit: the small toolkit the course's notebooks share.

    import coursekit
    coursekit.setup()                        # the Tripboard sandbox, fresh and seeded
    api = await coursekit.start_upstream()   # the slow upstream services
    ...
    await coursekit.shutdown()               # stop what the notebook started
"""
import importlib

from . import interrupt

# These two share their names with their modules (coursekit.exercises, coursekit.predict): bind
# them now, or importing the module first would leave the module where the function belongs.
from .exercises import load_chapter as exercises  # noqa: E402
from .predict import predict  # noqa: E402

# Names are imported on first use (PEP 562): `import coursekit` stays cheap, which matters for
# the worker processes of a process pool (they import the package to find coursekit.workloads).
_LAZY = {
    "raises": ("errors", "raises"),
    "show_progress": ("exercises", "show_progress"), "LoopLag": ("lag", "LoopLag"),
    "run_sync": ("sandbox", "run_sync"), "setup": ("sandbox", "setup"),
    "ServerProcess": ("servers", "ServerProcess"), "WorkerPoolServer": ("servers", "WorkerPoolServer"),
    "Timeline": ("timing", "Timeline"), "compare": ("timing", "compare"), "timed": ("timing", "timed"),
    "start_upstream": ("upstream", "start_upstream"), "stop_upstream": ("upstream", "stop_upstream"),
}

__all__ = [
    "setup", "run_sync", "shutdown", "raises", "predict", "timed", "compare", "Timeline", "LoopLag",
    "start_upstream", "stop_upstream", "WorkerPoolServer", "ServerProcess", "exercises", "show_progress",
    "setup_check",
]


def __getattr__(name):
    if name in _LAZY:
        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


# Kernel > Interrupt stops awaiting cells too (only inside a Jupyter kernel; nothing elsewhere).
interrupt.install()


async def shutdown():
    """Stop everything this kernel started (servers, the upstream API, sessions, subprocesses,
    tasks registered with coursekit.cleanup) and close its database connections.

    The sandbox's temporary database is deleted when the kernel exits.
    """
    from . import cleanup

    problems = await cleanup.stop_all()
    from django.conf import settings

    if settings.configured:
        from django.db import connections

        from .sandbox import run_sync

        await run_sync(connections.close_all)
    for problem in problems:
        print(f"Could not stop {problem}")
    print("Stopped everything this notebook started.")


def setup_check():
    from .envcheck import setup_check as check

    return check()
