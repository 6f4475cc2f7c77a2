"""Set up the Tripboard sandbox inside the current process (a Jupyter kernel, usually).

    import coursekit
    coursekit.setup()

gives a configured Django with a fresh SQLite database in a temporary directory,
migrated and seeded. Calling it again resets the data to the same seeded state.
It never sets DJANGO_ALLOW_ASYNC_UNSAFE: the errors that flag would hide are part
of what the course teaches.
"""
import atexit
import os
import shutil
import tempfile
import threading
from pathlib import Path

from asgiref.sync import sync_to_async

TMP_PREFIX = "coursekit-"
SETTINGS_MODULE = "tripboard.settings"

_state = {"tmpdir": None, "migrated": False}
_lock = threading.Lock()


def setup(*, quiet=False):
    """Configure Django for the sandbox and (re)create its seeded database.

    Idempotent: the first call migrates a new database; later calls in the same
    process flush it and seed it again, so every notebook run starts alike.
    """
    with _lock:
        if os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE"):
            print("Note: DJANGO_ALLOW_ASYNC_UNSAFE is set in this environment. It hides the errors this "
                  "course shows; unset it and restart the kernel.")
        _configure_django()
        counts = _in_worker_thread(_prepare_database)
    if not quiet:
        import django

        print(f"Sandbox ready: Tripboard on Django {django.get_version()}, "
              + ", ".join(f"{n} {what}" for what, n in counts.items()) + ".")


def database_path():
    """The SQLite file this process uses (None before setup())."""
    tmpdir = _state["tmpdir"]
    return Path(tmpdir) / "tripboard.sqlite3" if tmpdir else None


async def run_sync(fn, *args, **kwargs):
    """Run sync code (the ORM, the test Client, management commands) from async code or a cell.

    The kernel's main thread runs an event loop, so Django refuses sync ORM calls there
    (SynchronousOnlyOperation). This runs `fn` on asgiref's thread-sensitive worker
    thread instead and awaits the result, leaving the loop free meanwhile.
    """
    return await sync_to_async(fn, thread_sensitive=True)(*args, **kwargs)


def _configure_django():
    if _state["tmpdir"] is None:
        _remove_stale_tmpdirs()
        tmpdir = tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-")
        _state["tmpdir"] = tmpdir
        atexit.register(_remove_tmpdir)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
        os.environ["TRIPBOARD_DB_PATH"] = str(Path(tmpdir) / "tripboard.sqlite3")
    import django
    from django.apps import apps
    from django.conf import settings

    if not apps.ready:
        django.setup()
    # Settings loaded before setup() (pytest-django, a shell) may name another database file:
    # every connection reads this dict when it (re)opens, so point it at the sandbox's.
    database = settings.DATABASES["default"]
    if str(database["NAME"]) != os.environ["TRIPBOARD_DB_PATH"]:
        from django.db import connections

        connections.close_all()
        database["NAME"] = os.environ["TRIPBOARD_DB_PATH"]


def _prepare_database():
    from django.core.management import call_command
    from django.db import connections

    from trips.seed import seed

    try:
        if not _state["migrated"]:
            call_command("migrate", verbosity=0, interactive=False)
            _state["migrated"] = True
        else:
            call_command("flush", verbosity=0, interactive=False)
        return seed()
    finally:
        connections.close_all()


def _in_worker_thread(fn):
    """Run blocking Django setup on a short-lived thread and wait for it.

    Blocking the main thread is safe here: the work needs nothing from the kernel's
    event loop. Running it on the main thread itself would raise
    SynchronousOnlyOperation, because that thread has a running loop.
    """
    outcome = {}

    def target():
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # handed back to the caller below
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="coursekit-setup")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _remove_tmpdir():
    tmpdir, _state["tmpdir"] = _state["tmpdir"], None
    if tmpdir:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _remove_stale_tmpdirs():
    """Delete sandbox directories left by kernels that were killed (their pid is gone)."""
    for path in Path(tempfile.gettempdir()).glob(f"{TMP_PREFIX}*-*"):
        try:
            pid = int(path.name[len(TMP_PREFIX):].split("-", 1)[0])
        except ValueError:
            continue
        if pid != os.getpid() and not Path(f"/proc/{pid}").exists() and os.path.isdir("/proc/self"):
            shutil.rmtree(path, ignore_errors=True)
