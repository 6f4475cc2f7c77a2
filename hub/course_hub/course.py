"""Where a learner's pulled copy of the course is, and the environment that imports it.

The hub's environment has the course's dependencies but not the course: `coursekit` and the
sandbox project (`tripboard`, `trips`) always come from the learner's own clone, so a course
update that nbgitpuller brings reaches the learner's checks at the next kernel start.
"""
import os
from pathlib import Path

# Set by the hub (jupyterhub_config.py): the clone's folder, relative to the learner's home.
COURSE_DIR_VARIABLE = "COURSEKIT_COURSE_DIR"


def is_course(folder):
    folder = Path(folder)
    return (folder / "coursekit" / "__init__.py").is_file() and (folder / "sandbox_project").is_dir()


def find_course(start):
    """The course folder that holds `start` (a notebook's folder), else the hub's configured one."""
    start = Path(start).resolve()
    for folder in (start, *start.parents):
        if is_course(folder):
            return folder
    configured = os.environ.get(COURSE_DIR_VARIABLE)
    if configured:
        folder = Path.home() / Path(configured).expanduser()  # an absolute path stays as it is
        if is_course(folder):
            return folder.resolve()
    return None


def course_env(course, env=None):
    """`env` (default: this process's) with the course first on the import path. PYTHONPATH rather
    than sys.path, so that what the kernel starts (the lab's servers, worker processes) imports
    the same course."""
    env = dict(os.environ if env is None else env)
    paths = [str(course), str(Path(course) / "sandbox_project")]
    kept = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p not in paths]
    env["PYTHONPATH"] = os.pathsep.join(paths + kept)
    return env
