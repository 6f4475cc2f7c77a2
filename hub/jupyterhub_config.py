"""A JupyterHub for the course on one machine (docs/hub.md): `make hub` starts it, `make hub-test`
runs two learners through it.

    hub/setup                                             # hub/.venv and the proxy, once
    COURSE_HUB_PASSWORD=a-long-password hub/.venv/bin/jupyterhub -f hub/jupyterhub_config.py

Learners log in with any name and the shared password, then open the course's nbgitpuller link
(`python -m coursekit.hub link`). Every learner's server runs as this machine user, with a home
of its own (COURSE_HUB_HOMES/<name>): a trial or a workshop where learners trust each other. For
a hub where learners are kept apart, use a spawner that runs each as their own user (The Littlest
JupyterHub, or LocalProcessSpawner with PAM) and install the learners' environment there with
`hub/setup --user-env PREFIX`; the settings marked "course" below are the ones to keep.

Settings from the environment:
    COURSE_HUB_PASSWORD   the learners' shared password (8 characters or more); unset: any
                          password is accepted (a trial on 127.0.0.1 only)
    COURSE_HUB_HOMES      where the learners' homes go (default /tmp/async-django-course-hub)
    COURSE_HUB_STATE      the hub's database and cookie secret (default hub/.state)
    COURSE_HUB_ENV        the learners' environment (default hub/.venv)
    COURSE_HUB_PORT       the hub's public port (default 8000, JupyterHub's own default)
"""
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENV = Path(os.environ.get("COURSE_HUB_ENV") or HERE / ".venv")
STATE = Path(os.environ.get("COURSE_HUB_STATE") or HERE / ".state")
HOMES = os.environ.get("COURSE_HUB_HOMES") or "/tmp/async-django-course-hub"
# course: where the course's nbgitpuller link clones the course (its `targetpath`, in each home).
COURSE_FOLDER = "async-django-course"

c = get_config()  # noqa: F821 (JupyterHub provides it)
STATE.mkdir(parents=True, exist_ok=True)

# Who: any name, one shared password.
if os.environ.get("COURSE_HUB_PASSWORD"):
    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = os.environ["COURSE_HUB_PASSWORD"]
else:
    c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True

# Where: the hub on 127.0.0.1 (put a TLS proxy in front, or set c.JupyterHub.bind_url, for a room).
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(os.environ.get("COURSE_HUB_PORT") or 8000)
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.command = [str(HERE / "node_modules" / ".bin" / "configurable-http-proxy")]
# The hub stops its proxy and every learner's server (with their kernels) when it stops.
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

# The learners' servers: one process each, with a home of its own.
c.JupyterHub.spawner_class = "simple"  # SimpleLocalProcessSpawner
c.SimpleLocalProcessSpawner.home_dir_template = os.path.join(HOMES, "{username}")
c.Spawner.cmd = [str(ENV / "bin" / "jupyterhub-singleuser")]
if os.geteuid() == 0:
    c.Spawner.args = ["--allow-root"]  # every learner's server runs as this (root) user
c.Spawner.default_url = "/lab"
# A busy machine (twenty learners starting at once) is the normal case in a workshop.
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 120

# course: the learners' environment comes first on PATH (its `python`, `jupyter` and the course's
# commands in a terminal); kernels find the learner's clone by themselves, this folder when a
# notebook lives outside it (course_hub.kernel). Nothing else of the hub's environment reaches a
# learner (JupyterHub passes only Spawner.env_keep): no XDG_DATA_HOME, no COURSEKIT_PROGRESS_FILE,
# so each learner's progress stays in their own home.
c.Spawner.environment = {
    "PATH": f"{ENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
    "COURSEKIT_COURSE_DIR": COURSE_FOLDER,
}
