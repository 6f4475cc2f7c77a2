"""An offline room, for real (`make offline-test`; CI runs it): a fresh copy of the course with a
fresh .venv, installed by scripts/setup-env from ./wheelhouse inside a network namespace that has
no network at all (`unshare -n`, loopback only), with empty caches. Then the stack imports and
chapter 00's lesson runs under nbval, still offline.

It needs root and unshare. Where they are missing it fails and says so: it never passes
without having installed anything.
"""
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
WHEELHOUSE = ROOT / "wheelhouse"


def require_offline_namespace():
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.fail("The offline install test needs root (it runs `unshare -n`): run `sudo make offline-test`, "
                    "or run it in CI, which runs as root.")
    if not shutil.which("unshare") or not shutil.which("ip"):
        pytest.fail("The offline install test needs `unshare` (util-linux) and `ip` (iproute2): "
                    "apt-get install util-linux iproute2")
    probe = subprocess.run(["unshare", "-n", "ip", "link", "set", "lo", "up"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.fail(f"`unshare -n` is not allowed here ({probe.stderr.strip()}): a container needs "
                    f"CAP_SYS_ADMIN for it.")
    if not list(WHEELHOUSE.glob("*.whl")):
        pytest.fail("No ./wheelhouse: `make offline-test` builds it first (`make wheelhouse`).")


def fresh_copy(target):
    """The course's files as a clone would have them (tracked and new, not ignored), no .venv."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / "wheelhouse").symlink_to(WHEELHOUSE)
    assert not (target / ".venv").exists()


def offline(script, cwd, env):
    """Run a bash script in a new network namespace: loopback only, no route anywhere."""
    return subprocess.run(["unshare", "-n", "bash", "-c", "ip link set lo up && " + script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=1200)


def test_setup_env_installs_from_the_wheelhouse_with_no_network(tmp_path):
    require_offline_namespace()
    course = tmp_path / "course"
    fresh_copy(course)
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "VIRTUAL_ENV"))}
    # Empty caches and no pip configuration: whatever is installed comes from ./wheelhouse.
    env.update(XDG_CACHE_HOME=str(cache), UV_CACHE_DIR=str(cache / "uv"), PIP_CACHE_DIR=str(cache / "pip"),
               PIP_CONFIG_FILE=os.devnull, UV_NO_CONFIG="1", HOME=str(tmp_path / "home"),
               PYENV_ROOT=os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv")))
    (tmp_path / "home").mkdir()

    devices = offline("cat /proc/net/dev", course, env)
    interfaces = {line.split(":")[0].strip() for line in devices.stdout.splitlines() if ":" in line}
    assert interfaces == {"lo"}, f"the namespace has network interfaces besides loopback: {interfaces}"

    started, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    setup = offline("scripts/setup-env", course, env)
    took = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = after.ru_utime - cpu.ru_utime + after.ru_stime - cpu.ru_stime
    assert setup.returncode == 0, f"setup-env failed offline:\n{setup.stdout}\n{setup.stderr}"
    assert "from ./wheelhouse (no network needed)" in setup.stdout, setup.stdout
    assert "installing with pip" not in setup.stdout, setup.stdout + setup.stderr  # uv did it
    print(f"\nOffline install from ./wheelhouse ({len(list(WHEELHOUSE.glob('*.whl')))} wheels): {took:.1f} s "
          f"({cpu_s:.1f} s of CPU; load average {os.getloadavg()[0]:.1f})")

    imports = offline('.venv/bin/python -c "import django, channels, coursekit; print(coursekit.__file__)"',
                      course, env)
    assert imports.returncode == 0, imports.stderr
    assert imports.stdout.strip() == str(course / "coursekit" / "__init__.py")  # the copy, not this checkout

    lesson = offline(".venv/bin/python -m pytest -q -p no:cacheprovider --nbval --nbval-current-env "
                     "--nbval-sanitize-with tests/nbval-sanitize.cfg notebooks/00-welcome.ipynb -k 'not twice'",
                     course, env)
    assert lesson.returncode == 0, f"chapter 00 failed offline:\n{lesson.stdout[-6000:]}\n{lesson.stderr[-3000:]}"
    assert " passed" in lesson.stdout.splitlines()[-1] and "failed" not in lesson.stdout.splitlines()[-1]
    print(lesson.stdout.splitlines()[-1])
