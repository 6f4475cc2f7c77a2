"""The capstone's app (chapter 11): which copy of `dashboard/` a notebook works on, loaded fresh.

The learner writes real files, in a Django app of their own:

    work/capstone/dashboard/          your copy (made when chapter 11 first runs in work/;
                                      `make reset CHAPTER=11` renews it)
    sandbox_project/capstone/dashboard/   the course's stub it is copied from (never edited)
    solutions/capstone/dashboard/     the worked answer

`app()` picks the copy for the notebook that runs: the `capstone/` folder beside the notebook
(Jupyter starts a kernel in its notebook's folder, so a notebook in work/ gets work/capstone/,
the solution notebook gets solutions/capstone/), else the shipped stub.
COURSEKIT_CAPSTONE_DIR (a folder that holds `dashboard/`) overrides both.

    app = capstone.app()
    feeds = app.module("feeds")       # dashboard/feeds.py, read again from disk on every call
    server = await app.serve(api)     # uvicorn in a process of its own, on a free port

Every check loads the files afresh, so an edit counts as soon as it is saved. The checks also
load other copies beside it under other names (the worked answer, broken variants for the
tests you write): the app's modules import each other relatively for that reason.
"""
import atexit
import importlib
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

from . import workcopies

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "dashboard"
STUB = ROOT / "sandbox_project" / "capstone"
REFERENCE = ROOT / "solutions" / "capstone"
LEARNER_FILES = ("feeds.py", "queries.py", "consumers.py", "tasks.py")
ENV = "COURSEKIT_CAPSTONE_DIR"

_on_path = {"folder": None}


class App:
    """One copy of the dashboard app: `folder` holds `dashboard/`; loaded as module `name`."""

    def __init__(self, folder, name=PACKAGE):
        self.folder = Path(folder).resolve()
        self.name = name

    @property
    def package_dir(self):
        return self.folder / PACKAGE

    def path(self, filename):
        return self.package_dir / filename

    def where(self):
        """The app's folder as a learner reads it: relative to the course when inside it."""
        try:
            return f"{self.package_dir.relative_to(ROOT).as_posix()}/"
        except ValueError:
            return f"{self.package_dir}/"

    def describe(self):
        """One line for the set-up cell: which copy the checks will read."""
        if self.is_stub:
            return (f"Your app: {self.where()} is the course's own stub (no copy of yours here). Open chapter "
                    "11's notebooks from work/ (`make lab`): the first run there makes your copy, "
                    "work/capstone/dashboard/.")
        return f"Your app: {self.where()}"

    @property
    def is_stub(self):
        return self.folder == STUB.resolve()

    def forget(self):
        """Drop the loaded modules, so the next import reads the files again."""
        for name in [m for m in sys.modules if m == self.name or m.startswith(self.name + ".")]:
            del sys.modules[name]
        importlib.invalidate_caches()

    def load(self):
        """Import the package afresh (not its modules: `module()` imports each when asked)."""
        self.forget()
        if self.name == PACKAGE:
            _put_on_path(self.folder)
            return importlib.import_module(PACKAGE)
        spec = importlib.util.spec_from_file_location(
            self.name, self.package_dir / "__init__.py", submodule_search_locations=[str(self.package_dir)])
        package = importlib.util.module_from_spec(spec)
        sys.modules[self.name] = package
        try:
            spec.loader.exec_module(package)
        except BaseException:
            del sys.modules[self.name]
            raise
        return package

    def module(self, name, fresh=False):
        """dashboard.<name>, imported from this copy's files."""
        if fresh or self.name not in sys.modules or not _loaded_from(sys.modules[self.name], self.package_dir):
            self.load()
        return importlib.import_module(f"{self.name}.{name}")

    def server(self, upstream, *, name=None):
        """This app under uvicorn, in a process of its own (not started: `await ....start()`)."""
        from .lab import UVICORN, LabServer, sandbox_dir, server_env

        env = server_env(getattr(upstream, "url", upstream))
        env.update({"DJANGO_SETTINGS_MODULE": f"{PACKAGE}.settings", "PYTHONPATH": str(self.folder)})
        return LabServer([*UVICORN, f"{PACKAGE}.asgi:application"], probe="/health/", env=env,
                         cwd=str(sandbox_dir()), name=name or "uvicorn", ready_timeout=40.0)

    def __repr__(self):
        return f"<capstone app {self.where()} as {self.name}>"


def _loaded_from(module, package_dir):
    return any(Path(p).resolve() == package_dir for p in getattr(module, "__path__", []))


def _put_on_path(folder):
    """`folder` first on sys.path (and no other copy of the app there), so `import dashboard` finds it."""
    previous = _on_path["folder"]
    if previous is not None and previous in sys.path:
        sys.path.remove(previous)
    sys.path.insert(0, str(folder))
    _on_path["folder"] = str(folder)


def app(here=None):
    """The copy a notebook works on (see the module's docstring)."""
    chosen = os.environ.get(ENV)
    if chosen:
        return App(chosen)
    here = Path(here or os.getcwd()).resolve()
    beside = here / "capstone"
    if here == workcopies.work_dir().resolve():
        workcopies.ensure_capstone(here)  # the first time chapter 11 runs in work/: your copy of the stub
    if (beside / PACKAGE / "__init__.py").exists():
        return App(beside)
    return App(STUB)


def reference(name="_capstone_reference"):
    """The worked answer, loaded under a name of its own (it never replaces yours)."""
    return App(REFERENCE, name)


def variant(base, files, name, into=None):
    """A copy of `base` (an App) with some files replaced ({"feeds.py": source}), loaded as `name`.
    Made under `into` (a folder; a new temporary one when None, removed when Python exits)."""
    if into is None:
        into = Path(tempfile.mkdtemp(prefix="capstone-variant-"))
        atexit.register(shutil.rmtree, into, True)
    folder = Path(into) / name
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(base.package_dir, folder / PACKAGE, ignore=shutil.ignore_patterns("__pycache__"))
    for filename, source in files.items():
        (folder / PACKAGE / filename).write_text(source)
    return App(folder, name)
