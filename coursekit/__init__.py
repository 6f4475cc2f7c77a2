"""coursekit: the small toolkit the course's notebooks share.

    import coursekit
    coursekit.setup()                        # the Tripboard sandbox, fresh and seeded
    api = await coursekit.start_upstream()   # the slow upstream services
    ...
    await coursekit.shutdown()               # stop what the notebook started
"""
from .errors import raises
from .exercises import load_chapter as exercises
from .exercises import show_progress
from .predict import predict
from .sandbox import run_sync, setup
from .servers import WorkerPoolServer
from .timing import Timeline, timed
from .upstream import start_upstream, stop_upstream

__all__ = [
    "setup", "run_sync", "shutdown", "raises", "predict", "timed", "Timeline", "start_upstream",
    "stop_upstream", "WorkerPoolServer", "exercises", "show_progress", "setup_check",
]


async def shutdown():
    """Stop the servers this kernel started and close its database connections.

    The sandbox's temporary database is deleted when the kernel exits.
    """
    from . import servers, upstream

    await upstream.stop_upstream()
    await servers.stop_all()
    from django.conf import settings

    if settings.configured:
        from django.db import connections

        await run_sync(connections.close_all)
    print("Stopped everything this notebook started.")


def setup_check():
    from .envcheck import setup_check as check

    return check()
