"""Two learners on a real JupyterHub: `make hub-test` (CI runs it after the browser test).

hub/setup installs the hub's environment (PyPI) and its proxy (npm); then a hub from
hub/jupyterhub_config.py starts on free ports of 127.0.0.1. The course comes from a local git
repository made from this working tree (no network), handed out as its `learners` branch. Both
learners, at the same time, as a browser would: log in, open the course's nbgitpuller link (the
hub starts their server), let nbgitpuller clone the course into their home, follow its redirect
to the course-work page (their working copies are made) and land on their copy of chapter 00 in
JupyterLab. Then each runs every code cell of that copy in a kernel, through Jupyter's REST and
kernel (WebSocket) APIs, both at once. Checked:

- each kernel imports coursekit (and the sandbox project) from its own learner's clone; the
  hub's environment has no coursekit at all;
- progress stays in each learner's home (one passes an exercise, the other does not);
- no solutions/ reaches a learner; JupyterLab's news prompt is off;
- a course update (a changed hint in the checks) reaches a learner who pulls again, at the next
  kernel start, and not the learner who did not pull;
- when the hub stops, every process it started is gone and its ports are free.

The learners' servers run as this machine user with a home each (SimpleLocalProcessSpawner): the
test needs neither root nor new system users, and what it checks (which clone a kernel imports,
where progress goes) depends on HOME, which this spawner sets as a per-user spawner does.
It fails, never skips, when something it needs cannot be had, and says what.
"""
import contextlib
import json
import re
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psutil
import pytest
import requests
import websocket

from coursekit import hub as course_hub_links

ROOT = Path(__file__).resolve().parents[2]
HUB = ROOT / "hub"
ENV = HUB / ".venv"
LEARNERS = ("ada", "grace")
PASSWORD = secrets.token_urlsafe(12)
COURSE = course_hub_links.TARGETPATH
LESSON = course_hub_links.lesson_copy("00")
HINTS = ROOT / "coursekit" / "checks" / "ch00.py"
FIRST_HINT = "QuerySets have async twins of their methods"
TIMES = {}


def timed(name):
    @contextlib.contextmanager
    def block():
        started = time.perf_counter()
        yield
        TIMES[name] = time.perf_counter() - started
    return block()


def free_ports(count):
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def port_is_free(port):
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def course_repository(target):
    """A git repository with this working tree's course (tracked and new files, not ignored ones)
    on `main`, and its `learners` branch: what the hub pulls from, with no network."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    git("init", "-q", "-b", "main", cwd=target)
    commit(target, "The course")
    course_hub_links.learners_branch("main", repo=target)
    return target


def commit(repo, message):
    git("add", "-A", cwd=repo)
    git("-c", "user.name=Course", "-c", "user.email=course@localhost", "commit", "-q", "-m", message, cwd=repo)


# --- the hub -----------------------------------------------------------------------------
class Hub:
    """hub/jupyterhub_config.py on free ports, plus a service token for the test's own API calls.
    Every process it starts is remembered, so that none may outlive it."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.port, self.hub_port, self.api_port = free_ports(3)
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_hex(16)
        self.homes = workdir / "homes"
        self.log_path = workdir / "jupyterhub.log"
        self.seen = set()  # pids of the hub's processes: the proxy, servers, kernels

    def start(self):
        config = self.workdir / "jupyterhub_config.py"
        config.write_text(
            f"load_subconfig({str(HUB / 'jupyterhub_config.py')!r})\n"
            f"c.JupyterHub.hub_port = {self.hub_port}\n"
            f"c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:{self.api_port}'\n"
            f"c.JupyterHub.services = [{{'name': 'hub-test', 'api_token': {self.token!r}}}]\n"
            "c.JupyterHub.load_roles = [{'name': 'hub-test', 'services': ['hub-test'],\n"
            "                            'scopes': ['admin:users', 'admin:servers', 'tokens']}]\n"
            # Each learner's temporary files in their home, to check that none are left behind.
            "c.Spawner.environment['TMPDIR'] = lambda spawner: f'{spawner.home_dir}/tmp'\n")
        for name in LEARNERS:
            (self.homes / name / "tmp").mkdir(parents=True)
        env = dict(os.environ, COURSE_HUB_PASSWORD=PASSWORD, COURSE_HUB_HOMES=str(self.homes),
                   COURSE_HUB_STATE=str(self.workdir / "state"), COURSE_HUB_PORT=str(self.port))
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen([str(ENV / "bin" / "jupyterhub"), "-f", str(config)], cwd=self.workdir,
                                        env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + 120
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"JupyterHub did not start. The end of its log:\n{self.tail()}")
            time.sleep(0.2)
        self.remember()

    def answers(self):
        try:
            return requests.get(f"{self.url}/hub/api/", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def api(self, method, path, **kwargs):
        response = requests.request(method, f"{self.url}/hub/api/{path}", timeout=30,
                                    headers={"Authorization": f"token {self.token}"}, **kwargs)
        assert response.status_code < 400, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.text else None

    def remember(self):
        with contextlib.suppress(psutil.NoSuchProcess):
            self.seen.update(p.pid for p in psutil.Process(self.process.pid).children(recursive=True))
        self.seen.add(self.process.pid)

    def tail(self, lines=40):
        self.log.flush()
        return "".join(self.log_path.read_text(errors="replace").splitlines(keepends=True)[-lines:])

    def stop(self):
        """As an instructor would (Ctrl+C): the hub stops the learners' servers and the proxy.
        Returns what was left behind (then killed), for the test to fail on."""
        self.remember()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        deadline = time.monotonic() + 20
        left = [pid for pid in self.seen if psutil.pid_exists(pid)]
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = [pid for pid in left if _alive(pid)]
        for pid in left:
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(pid).kill()
        return left


def _alive(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# --- a learner, as a browser and as JupyterLab would act ----------------------------------
class Learner:
    def __init__(self, name, hub, link):
        self.name, self.hub, self.link = name, hub, link
        self.home = hub.homes / name
        self.course = self.home / COURSE
        self.browser = requests.Session()
        self.server = f"{hub.url}/user/{name}/"
        self.times = {}

    def log_in(self):
        self.browser.get(f"{self.hub.url}/hub/login", timeout=30).raise_for_status()
        response = self.browser.post(f"{self.hub.url}/hub/login", timeout=30, allow_redirects=False,
                                     data={"username": self.name, "password": PASSWORD,
                                           "_xsrf": self.browser.cookies.get("_xsrf", path="/hub/")})
        assert response.status_code == 302, f"login of {self.name}: {response.status_code} {response.text[:500]}"

    def open_link(self):
        """The nbgitpuller link, then what its page does in a browser: the pull (an event stream),
        then the redirect to `urlpath`. Returns the final URL."""
        started = time.perf_counter()
        page = self.browser.get(self.link, timeout=60)
        if not page.url.startswith(self.server):
            # The server was not running: the hub starts it and shows "Your server is starting up".
            assert "/hub/spawn-pending/" in page.url, (f"{self.name}: {page.status_code} {page.url} "
                                                      f"{_message(page.text)}")
            self.wait_for_server()
            self.times["server start"] = time.perf_counter() - started
            page = self.browser.get(self.link, timeout=60)
        assert page.status_code == 200 and page.url.startswith(f"{self.server}git-pull"), (page.status_code, page.url)
        params = {key: values[0] for key, values in parse_qs(urlsplit(page.url).query).items()}
        started = time.perf_counter()
        events = self.browser.get(f"{self.server}git-pull/api", timeout=300, stream=True,
                                  params={k: params[k] for k in ("repo", "branch", "targetpath")})
        phases = [json.loads(line[len("data: "):]) for line in events.iter_lines(decode_unicode=True)
                  if line.startswith("data: ")]
        assert phases and phases[-1]["phase"] == "finished", f"nbgitpuller for {self.name}: {phases[-3:]}"
        self.times["pull"] = time.perf_counter() - started
        started = time.perf_counter()
        landed = self.browser.get(self.server + params["urlpath"], timeout=300)
        self.times["course-work page"] = time.perf_counter() - started
        assert landed.status_code == 200, f"{params['urlpath']}: {landed.status_code} {landed.text[:800]}"
        return landed.url

    def wait_for_server(self):
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            user = self.hub.api("GET", f"users/{self.name}")
            if user["server"] and not user["pending"]:
                self.hub.remember()
                self.token = self.hub.api("POST", f"users/{self.name}/tokens", json={"note": "hub-test"})["token"]
                return
            time.sleep(0.3)
        raise AssertionError(f"{self.name}'s server did not start. The hub's log:\n{self.hub.tail()}")

    def rest(self, method, path, **kwargs):
        response = requests.request(method, f"{self.server}{path}", timeout=60,
                                    headers={"Authorization": f"token {self.token}"}, **kwargs)
        assert response.status_code < 400, f"{self.name}: {method} {path}: {response.status_code} {response.text}"
        return response.json() if response.text else None

    def kernel(self, notebook):
        """A kernel for `notebook` (a path in the learner's home), as JupyterLab opens one."""
        session = self.rest("POST", "api/sessions", json={"path": notebook, "type": "notebook", "name": "",
                                                          "kernel": {"name": "python3"}})
        self.hub.remember()
        return Kernel(self, session["kernel"]["id"])


class Kernel:
    """Jupyter's kernel protocol over the server's WebSocket, one cell at a time."""

    def __init__(self, learner, kernel_id):
        self.learner, self.id, self.session = learner, kernel_id, uuid.uuid4().hex
        url = learner.server.replace("http://", "ws://") + f"api/kernels/{kernel_id}/channels?session_id={self.session}"
        self.socket = websocket.create_connection(url, timeout=300,
                                                  header=[f"Authorization: token {learner.token}"])

    def run(self, code, timeout=300):
        """Run `code`; returns (text of its outputs, the error's name and value or None)."""
        msg_id = uuid.uuid4().hex
        self.socket.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": self.session,
                       "username": self.learner.name, "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        text, error, replied, idle = [], None, False, False
        deadline = time.monotonic() + timeout
        while not (replied and idle):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.learner.name}: a cell ran longer than {timeout} s:\n{code}")
            message = json.loads(self.socket.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                text.append(content["text"])
            elif kind in ("execute_result", "display_data"):
                text.append(content["data"].get("text/plain", ""))
            elif kind == "error":
                error = f"{content['ename']}: {content['evalue']}"
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
            elif kind == "execute_reply":
                replied = True
                if content["status"] == "error" and not error:
                    error = f"{content.get('ename')}: {content.get('evalue')}"
        return "".join(text), error

    def value(self, expression):
        output, error = self.run(f"print(repr({expression}))")
        assert error is None, f"{self.learner.name}: {expression}: {error}"
        return eval(output)  # a repr of strings, lists and dicts

    def close(self):
        self.socket.close()
        self.learner.rest("DELETE", f"api/kernels/{self.id}")


def _message(html):
    """The error message of a JupyterHub page."""
    found = re.search(r'<p class="error-message">(.*?)</p>|<div class="error">(.*?)</div>', html, re.S)
    return " ".join((found.group(1) or found.group(2)).split()) if found else html[-800:]


def code_cells(learner, notebook):
    model = learner.rest("GET", f"api/contents/{notebook}", params={"content": "1"})
    cells = [cell["source"] for cell in model["content"]["cells"] if cell["cell_type"] == "code"]
    assert cells and all(not cell["outputs"] for cell in model["content"]["cells"] if cell["cell_type"] == "code")
    return cells


TOGETHER = threading.Barrier(len(LEARNERS), timeout=600)  # both start chapter 00 at the same moment


def run_chapter_00(learner, results):
    """Log in, open the link, run every code cell of the copy of chapter 00; then what the kernel
    imports, and one exercise check that records progress (ada answers right, grace wrong)."""
    try:
        learner.log_in()
        landed = learner.open_link()
        notebook = f"{COURSE}/work/{LESSON}"
        assert urlsplit(landed).path == urlsplit(learner.server).path + "lab/tree/" + requests.utils.quote(notebook)
        cells = code_cells(learner, notebook)
        kernel = learner.kernel(notebook)
        TOGETHER.wait()
        started = time.monotonic()
        for source in cells:
            output, error = kernel.run(source)
            assert error is None, f"{learner.name}, chapter 00, cell:\n{source}\n-> {error}\n{output}"
        learner.ran = (started, time.monotonic())
        learner.times["chapter 00"] = learner.ran[1] - started
        learner.kernel_mb = kernel.value("__import__('psutil').Process().memory_info().rss") / 2**20
        results[learner.name] = {
            "coursekit": kernel.value("coursekit.__file__"),
            "trips": kernel.value("__import__('trips').__file__"),
            "home": kernel.value("__import__('os').environ['HOME']"),
            "tmp": kernel.value("__import__('tempfile').gettempdir()"),
            "progress file": kernel.value("str(__import__('coursekit.progress').progress.progress_file())"),
            "hint": kernel.run("coursekit.exercises('00', demo=True).hint('city-count')")[0],
        }
        right = "return await City.objects.acount()" if learner.name == LEARNERS[0] else "return 7"
        output, error = kernel.run("ex = coursekit.exercises('00')\n"
                                   f"async def city_count():\n    {right}\n"
                                   "await ex.check('city-count')")
        assert error is None, error
        results[learner.name]["verdict"] = output
        learner.kernel_now = kernel
    except BaseException as error:  # reported by the test's thread
        TOGETHER.abort()  # the other learner stops waiting
        results[learner.name] = error


# --- the test ----------------------------------------------------------------------------
def install():
    if not shutil.which("git"):
        pytest.fail("The hub test needs git (nbgitpuller runs it): apt-get install git")
    with timed("install"):
        setup = subprocess.run([str(HUB / "setup")], cwd=ROOT, capture_output=True, text=True, timeout=1200)
    if setup.returncode != 0:
        pytest.fail(f"hub/setup could not install the hub (it needs PyPI and npm):\n{setup.stdout}\n{setup.stderr}")
    print(f"\n{setup.stdout.strip()}")


@pytest.mark.timeout(2400)  # a first install on a busy machine takes minutes (pyproject's default: 300 s)
def test_two_learners_pull_and_run_chapter_00_on_a_real_hub(tmp_path):
    install()
    outside = subprocess.run([str(ENV / "bin" / "python"), "-c", "import coursekit"], cwd=tmp_path,
                             capture_output=True, text=True)
    assert "No module named 'coursekit'" in outside.stderr, "the hub's environment must not have the course"

    repo = course_repository(tmp_path / "course.git")
    link = course_hub_links.link("http://placeholder", f"file://{repo}")
    hub = Hub(tmp_path)
    learners = []
    try:
        with timed("hub start"):
            hub.start()
        learners = [Learner(name, hub, link.replace("http://placeholder", hub.url)) for name in LEARNERS]
        results = {}
        threads = [threading.Thread(target=run_chapter_00, args=(learner, results)) for learner in learners]
        with timed("both learners"):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=900)
        for learner in learners:
            if isinstance(results.get(learner.name), BaseException):
                raise results[learner.name]
            assert learner.name in results, f"{learner.name} did not finish. The hub's log:\n{hub.tail()}"

        for learner in learners:
            got = results[learner.name]
            # coursekit and the sandbox from this learner's clone, progress in this learner's home.
            assert got["coursekit"] == str(learner.course / "coursekit" / "__init__.py"), got
            assert got["trips"] == str(learner.course / "sandbox_project" / "trips" / "__init__.py"), got
            assert got["home"] == str(learner.home) and got["tmp"] == str(learner.home / "tmp")
            assert got["progress file"] == str(learner.home / ".local/share/async-django-course/progress.json")
            assert FIRST_HINT in got["hint"]
            # The learners' branch: no solutions, no answer tables; the working copies are there.
            assert git("rev-parse", "--abbrev-ref", "HEAD", cwd=learner.course) == "learners"
            assert not (learner.course / "solutions").exists() and not (learner.course / "tests" / "answers").exists()
            assert (learner.course / "work" / LESSON).is_file()
            assert len(list((learner.course / "work").glob("* exercises - *.ipynb"))) >= 9
            news = learner.rest("GET", "lab/api/settings/@jupyterlab/apputils-extension:notification")
            # scripts/jupyter-settings' overrides change the defaults (JupyterLab's own: "none", true).
            defaults = {k: v["default"] for k, v in news["schema"]["properties"].items()}
            assert defaults["fetchNews"] == "false" and defaults["checkForUpdates"] is False, defaults
            assert "fetchNews" not in news["settings"], news["settings"]

        ada, grace = learners
        assert ada.ran[0] < grace.ran[1] and grace.ran[0] < ada.ran[1], "the learners did not run chapter 00 at once"
        assert "passed" in results["ada"]["verdict"].lower(), results["ada"]["verdict"]
        assert "passed" not in results["grace"]["verdict"].lower(), results["grace"]["verdict"]
        records = {learner.name: json.loads(Path(results[learner.name]["progress file"]).read_text())
                   for learner in learners}
        assert [entry["passed"] for entry in records["ada"].values()] == [True], records
        assert [entry["passed"] for entry in records["grace"].values()] == [False], records
        assert records["ada"].keys() == records["grace"].keys()
        # The hub passes none of its own environment's progress settings on (tests/conftest.py sets one).
        assert "COURSEKIT_PROGRESS_FILE" in os.environ and not Path(os.environ["COURSEKIT_PROGRESS_FILE"]).exists()

        # A course update: a new hint in the checks, published on the learners' branch. Ada pulls
        # (opens the link again) and restarts her kernel; Grace does neither.
        marker = f"Updated-{secrets.token_hex(4)}"
        changed = repo / HINTS.relative_to(ROOT)
        changed.write_text(changed.read_text().replace(FIRST_HINT, f"{marker} {FIRST_HINT}", 1))
        commit(repo, "A clearer hint")
        course_hub_links.learners_branch("main", repo=repo)
        with timed("update: pull and working copies"):
            assert ada.open_link().endswith(requests.utils.quote(f"{COURSE}/work/{LESSON}"))
        ada.kernel_now.close()
        grace.kernel_now.close()
        hints = {}
        for learner in learners:
            kernel = learner.kernel(f"{COURSE}/work/{LESSON}")
            hints[learner.name] = kernel.run("import coursekit\ncoursekit.exercises('00', demo=True).hint('city-count')")
            kernel.close()
        assert marker in hints["ada"][0], hints["ada"]
        assert marker not in hints["grace"][0] and FIRST_HINT in hints["grace"][0], hints["grace"]
    finally:
        left = hub.stop() if hasattr(hub, "process") else []
        busy = [port for port in (hub.port, hub.hub_port, hub.api_port) if not port_is_free(port)]
        temporary = {name: sorted(p.name for p in (hub.homes / name / "tmp").iterdir()) for name in LEARNERS}
        shutil.rmtree(tmp_path, ignore_errors=True)
    report = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in TIMES.items())
    for learner in learners:
        report += f"\n  {learner.name}: " + ", ".join(f"{k} {v:.1f} s" for k, v in learner.times.items())
        report += f"; kernel after chapter 00: {getattr(learner, 'kernel_mb', 0):.0f} MB"
    print(f"\nhub test: {report}\n(load average {os.getloadavg()[0]:.1f})")
    assert not left, f"processes outlived the hub (killed now): {left}"
    assert not busy, f"ports still in use after the hub stopped: {busy}"
    assert temporary == {name: [] for name in LEARNERS}, f"temporary files left in the learners' TMPDIR: {temporary}"
