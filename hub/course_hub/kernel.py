"""The learners' Python kernel: ipykernel, with the learner's own clone of the course first.

    python -m course_hub.kernel -f CONNECTION_FILE    (what the kernel spec runs)
    python -m course_hub.kernel install PREFIX         (writes that kernel spec as `python3`)

Jupyter starts a kernel in its notebook's folder (`~/async-django-course/work/` for a working
copy): the course is the first folder above it that holds `coursekit/`, else the hub's
configured folder (course.COURSE_DIR_VARIABLE). Outside any course the kernel is a plain one.
"""
import json
import os
import sys
from pathlib import Path

from .course import course_env, find_course

SPEC_NAME = "python3"  # the name the course's notebooks ask for: they open with this kernel
DISPLAY_NAME = "Python 3 (ipykernel)"


def launch(argv):
    course = find_course(Path.cwd())
    env = course_env(course) if course else dict(os.environ)
    # exec, not a child process: the kernel keeps this pid, so Jupyter's interrupt and restart
    # reach it directly.
    os.execve(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *argv], env)


def install(prefix):
    """Write the kernel spec into `prefix`, replacing ipykernel's own `python3` (its logos stay)."""
    folder = Path(prefix) / "share" / "jupyter" / "kernels" / SPEC_NAME
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"argv": ["python", "-m", "course_hub.kernel", "-f", "{connection_file}"],
            "display_name": DISPLAY_NAME, "language": "python", "metadata": {"debugger": True}}
    # A new file, then a rename: installers (uv) hard-link ipykernel's kernel.json from their cache
    # into every environment, so writing into it would change the kernel of all of them.
    new = folder / "kernel.json.new"
    new.write_text(json.dumps(spec, indent=1) + "\n")
    os.replace(new, folder / "kernel.json")
    return folder


if __name__ == "__main__":
    if sys.argv[1:2] == ["install"]:
        print(f"Kernel spec: {install(sys.argv[2] if len(sys.argv) > 2 else sys.prefix)}")
    else:
        launch(sys.argv[1:])
