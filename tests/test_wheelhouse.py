"""Launch paths agree with each other: the offline wheelhouse, setup-env's choice of source,
Binder's files (environment.yml, postBuild), and pyproject's dependencies against requirements.in.

The real offline install (no network at all) is tests/offline/install_offline.py (`make offline-test`).
"""
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.tags import Tag
from packaging.utils import canonicalize_name

from coursekit.doctor import parse_pins, wheelhouse_gaps

ROOT = Path(__file__).resolve().parent.parent


def top_level():
    """{name: version} of requirements.in's own pins."""
    return parse_pins((ROOT / "requirements.in").read_text())


def declared():
    return {canonicalize_name(Requirement(d).name): Requirement(d)
            for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}


# --- pyproject, environment.yml, postBuild ------------------------------------------------------
def test_pyproject_declares_every_top_level_package_in_a_range_that_holds_its_pin():
    pins, deps = top_level(), declared()
    assert sorted(pins) == sorted(deps), "pyproject.toml's [project] dependencies and requirements.in differ"
    for name, version in pins.items():
        assert deps[name].specifier.contains(version), f"{name}=={version} is outside {deps[name]}"
        assert not deps[name].specifier.contains("0.0.1"), f"{deps[name]} has no lower bound"


def test_top_level_pins_are_the_locked_ones():
    locked = parse_pins((ROOT / "requirements.txt").read_text())
    stale = {n: (v, locked.get(n)) for n, v in top_level().items() if locked.get(n) != v}
    assert not stale, f"requirements.txt does not match requirements.in: run `make lock` ({stale})"


def test_the_notebook_pin_accepts_the_jupyterlab_pin():
    """Binder's base image has notebook 7.4 (jupyterlab<4.5); the pinned notebook must take ours."""
    pins = parse_pins((ROOT / "requirements.txt").read_text())
    assert importlib.metadata.version("notebook") == pins["notebook"]
    needs = [Requirement(r) for r in importlib.metadata.requires("notebook") if "extra ==" not in r]
    lab = next(r for r in needs if canonicalize_name(r.name) == "jupyterlab")
    assert lab.specifier.contains(pins["jupyterlab"]), f"notebook {pins['notebook']} wants {lab}"


def test_pip_sees_the_dependencies(tmp_path):
    """What `pip install .` would install (metadata built by setuptools, nothing installed)."""
    report = tmp_path / "report.json"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--no-deps",
                    "--no-build-isolation", "--no-index", "--report", str(report), str(ROOT)],
                   check=True, capture_output=True, text=True, cwd=tmp_path)
    (item,) = json.loads(report.read_text())["install"]
    requires = {canonicalize_name(Requirement(r).name) for r in item["metadata"]["requires_dist"]}
    assert requires == set(top_level())


def test_environment_yml_installs_the_pins_and_the_course_on_the_course_python():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    python = next(d for d in deps if isinstance(d, str) and d.startswith("python="))
    assert python == f"python={(ROOT / '.python-version').read_text().strip()}"
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    assert pip == ["-r requirements.txt", "-e ."]


def test_postbuild_and_setup_env_write_the_same_settings(tmp_path):
    postbuild = (ROOT / "postBuild").read_text()
    assert os.access(ROOT / "postBuild", os.X_OK) and "scripts/jupyter-settings" in postbuild
    assert "python -m coursekit work" in postbuild   # Binder's learners get working copies, as with make lab
    assert 'scripts/jupyter-settings "$VENV"' in (ROOT / "scripts/setup-env").read_text()
    subprocess.run([str(ROOT / "scripts/jupyter-settings"), str(tmp_path)], check=True)
    overrides = json.loads((tmp_path / "share/jupyter/lab/settings/overrides.json").read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"] == {"fetchNews": "false",
                                                                       "checkForUpdates": False}
    page = json.loads((tmp_path / "etc/jupyter/labconfig/page_config.json").read_text())
    assert page["disabledExtensions"] == {"@jupyter/nbgrader": True}
    server = json.loads((tmp_path / "etc/jupyter/jupyter_server_config.d/zz-async-django-course.json").read_text())
    assert set(server["ServerApp"]["jpserver_extensions"].values()) == {False}
    # Instructors can have the panels back.
    subprocess.run([str(ROOT / "scripts/jupyter-settings"), "--with-nbgrader", str(tmp_path)], check=True,
                   capture_output=True)
    assert not (tmp_path / "etc/jupyter/labconfig/page_config.json").exists()


# --- the wheelhouse ------------------------------------------------------------------------------
LINUX = {Tag("cp313", "cp313", "manylinux_2_17_x86_64"), Tag("py3", "none", "any"),
         Tag("cp313", "abi3", "manylinux_2_17_x86_64")}


def test_wheelhouse_gaps_by_name_version_and_platform():
    pins = {"django": "6.1.3", "numpy": "2.5.5", "pyyaml": "6.0.3"}
    files = ["Django-6.1.3-py3-none-any.whl",                                   # names are normalised
             "numpy-2.5.5-cp313-cp313-win_amd64.whl",                           # another platform
             "PyYAML-6.0.2-cp313-cp313-manylinux_2_17_x86_64.whl",              # an older pin
             "README.txt"]
    assert wheelhouse_gaps(pins, files, LINUX) == ["numpy==2.5.5", "pyyaml==6.0.3"]
    files += ["numpy-2.5.5-cp313-cp313-manylinux_2_17_x86_64.whl", "pyyaml-6.0.3-cp313-cp313-manylinux_2_17_x86_64.whl"]
    assert wheelhouse_gaps(pins, files, LINUX) == []


def test_wheelhouse_script_removes_wheels_of_old_pins(tmp_path):
    import importlib.machinery
    import importlib.util

    loader = importlib.machinery.SourceFileLoader("wheelhouse_script", str(ROOT / "scripts/wheelhouse"))
    spec = importlib.util.spec_from_loader("wheelhouse_script", loader)
    script = importlib.util.module_from_spec(spec)
    loader.exec_module(script)
    for name in ["django-6.1.2-py3-none-any.whl", "django-6.1.3-py3-none-any.whl", "uv-0.1.0-py3-none-any.whl"]:
        (tmp_path / name).touch()
    assert [p.name for p in script.stale({"django": "6.1.3"}, tmp_path)] == ["django-6.1.2-py3-none-any.whl"]


FAKE_PYTHON = """#!/usr/bin/env bash
echo "$*" >> "$FAKE_LOG"
case "$*" in
  *"sys.version_info >= (3, 12)"*) echo "$0" ;;
  --version) echo "Python 3.13.0" ;;
esac
"""


def run_setup_env(tmp_path, wheelhouse):
    """scripts/setup-env in a copy whose .venv/bin/python only logs what it is asked to do."""
    course = tmp_path / "course"
    (course / "scripts").mkdir(parents=True)
    for name in ["scripts/setup-env", "scripts/jupyter-settings", "requirements.txt", "pyproject.toml"]:
        shutil.copy2(ROOT / name, course / name)
    python = course / ".venv/bin/python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    if wheelhouse:
        (course / "wheelhouse").mkdir()
        (course / "wheelhouse/django-6.1.3-py3-none-any.whl").touch()
    log = tmp_path / "calls.log"
    out = subprocess.run(["bash", str(course / "scripts/setup-env")], env=dict(os.environ, FAKE_LOG=str(log)),
                         capture_output=True, text=True, check=True).stdout
    return out, log.read_text().splitlines()


@pytest.mark.parametrize("wheelhouse", [True, False], ids=["with-wheelhouse", "without"])
def test_setup_env_uses_the_wheelhouse_by_itself(tmp_path, wheelhouse):
    out, calls = run_setup_env(tmp_path, wheelhouse)
    pip_uv = next(c for c in calls if c.startswith("-m pip install") and c.endswith(" uv"))
    uv = next(c for c in calls if c.startswith("-m uv pip install"))
    if wheelhouse:
        assert "from ./wheelhouse (no network needed)" in out
        assert "--no-index --find-links wheelhouse" in pip_uv
        assert "--offline --find-links wheelhouse" in uv
    else:
        assert "wheelhouse" not in out + pip_uv + uv
    assert uv.endswith("-r requirements.txt -e .")
