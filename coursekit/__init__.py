"""coursekit: the small toolkit the course's notebooks share.

    import coursekit
    coursekit.setup()                        # the Tripboard sandbox, fresh and seeded
    api = await coursekit.start_upstream()   # the slow upstream services
    ...
    await coursekit.shutdown()               # stop what the notebook started
"""
from . import interrupt
from .errors import raises
from .exercises import load_chapter as exercises
from .exercises import show_progress
from .lag import LoopLag
from .predict import predict
from .sandbox import run_sync, setup
from .servers import ServerProcess, WorkerPoolServer
from .timing import Timeline, compare, timed
from .upstream import start_upstream, stop_upstream

__all__ = [
    "setup", "run_sync", "shutdown", "raises", "predict", "timed", "compare", "Timeline", "LoopLag",
    "start_upstream", "stop_upstream", "WorkerPoolServer", "ServerProcess", "exercises", "show_progress",
    "setup_check",
]

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

        await run_sync(connections.close_all)
    for problem in problems:
        print(f"Could not stop {problem}")
    print("Stopped everything this notebook started.")


def setup_check():
    from .envcheck import setup_check as check

    return check()
