"""What a JupyterHub's single-user environment adds for the course (docs/hub.md).

- A Jupyter server extension with one page, `course-work/<folder>?open=<path>`: it makes the
  learner's working copies in the pulled course (`python -m coursekit work`, run from that
  clone), then opens `<folder>/<path>` in JupyterLab. nbgitpuller's link sends learners there
  once the pull is done (its `urlpath`; `python -m coursekit.hub link` writes such links), so
  the copy of chapter 00 exists before JupyterLab opens it, on the first launch and after every
  update (new chapters are copied, nothing is overwritten).
- The kernel (course_hub.kernel): coursekit from the learner's clone, never from the environment.

`python -m course_hub setup PREFIX` installs both into the environment at PREFIX.
"""
import asyncio
import os
import posixpath
import sys
from pathlib import Path
from urllib.parse import quote

from .course import course_env, is_course

WORK_COMMAND = ["-m", "coursekit", "work"]
WORK_TIMEOUT = 300  # seconds; copying every notebook takes about one on a busy machine


def _jupyter_server_extension_points():
    return [{"module": "course_hub"}]


def _load_jupyter_server_extension(server_app):
    from jupyter_server.utils import url_path_join

    base_url = server_app.web_app.settings["base_url"]
    server_app.web_app.add_handlers(".*", [(url_path_join(base_url, "course-work", "(.*)"), _work_handler())])


def _work_handler():
    from jupyter_server.base.handlers import JupyterHandler
    from jupyter_server.utils import url_path_join
    from tornado import web

    class WorkCopiesHandler(JupyterHandler):
        @web.authenticated
        async def get(self, folder):
            root = Path(self.settings["server_root_dir"]).expanduser().resolve()
            course = (root / folder).resolve()
            if not course.is_relative_to(root) or not is_course(course):
                raise web.HTTPError(404, f"No course in {folder or 'your home folder'!r}: pull it first "
                                         f"(the course's nbgitpuller link does).")
            ok, output = await make_work_copies(course)
            self.log.info("course-work %s: %s", course, output.strip())
            if not ok:
                raise web.HTTPError(500, f"Could not make your working copies in {folder}/work:\n{output}")
            target = path_in(course.relative_to(root).as_posix(), self.get_argument("open", "work"))
            self.redirect(url_path_join(self.base_url, "lab", "tree", quote(target)))

    return WorkCopiesHandler


def path_in(folder, opened):
    """`opened` inside `folder` (both relative to the server's root), never outside it."""
    inside = posixpath.normpath(posixpath.join("/", opened)).lstrip("/")
    return posixpath.normpath(posixpath.join(folder, inside))


async def make_work_copies(course):
    """Run `python -m coursekit work` in the clone, with the clone's coursekit. (ok, output)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, *WORK_COMMAND, cwd=course, env=course_env(course, os.environ),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        output, _ = await asyncio.wait_for(process.communicate(), WORK_TIMEOUT)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        return False, f"`python -m coursekit work` took longer than {WORK_TIMEOUT} s."
    return process.returncode == 0, output.decode(errors="replace")
