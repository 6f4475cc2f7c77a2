"""`make doctor`: its decisions on made-up machines, and one real run on this one."""
import subprocess
import sys

from coursekit import doctor
from coursekit.doctor import GB, MB, Finding

ROOT = doctor.ROOT


def test_python_version():
    assert doctor.python_finding((3, 13, 0)).ok
    assert doctor.python_finding((3, 12, 1)).ok
    old = doctor.python_finding((3, 11, 9))
    assert not old.ok and "3.11.9" in old.text and "3.12 or newer" in old.fix


def test_a_busy_lab_port_is_not_a_problem_but_a_closed_loopback_is():
    assert doctor.lab_port_finding(True).ok
    busy = doctor.lab_port_finding(False)
    assert busy.ok and "pick a free port" in busy.text
    assert doctor.port_zero_finding(None).ok
    blocked = doctor.port_zero_finding("[Errno 1] Operation not permitted")
    assert not blocked.ok and "firewall" in blocked.fix


def test_disk_space():
    assert doctor.disk_finding("the course", "/c", 3 * GB, doctor.NEED_FOR_VENV).ok
    low = doctor.disk_finding("the course", "/c", 500 * MB, doctor.NEED_FOR_VENV)
    assert not low.ok and "500 MB" in low.text and "1.0 GB more" in low.fix


def test_wheelhouse_findings():
    assert doctor.wheelhouse_finding(False, [], 0, 0).ok  # none is fine with a network
    full = doctor.wheelhouse_finding(True, [], 173, 212 * MB)
    assert full.ok and "173 wheels" in full.text and "no network" in full.text
    gaps = [f"pkg{i}==1.0" for i in range(7)]
    stale = doctor.wheelhouse_finding(True, gaps, 170, 200 * MB)
    assert not stale.ok and "7 pinned packages" in stale.text and "and 2 more" in stale.text
    assert "make wheelhouse" in stale.fix


def test_wheelhouse_probe_reads_the_folder(tmp_path):
    (tmp_path / "requirements.txt").write_text("django==6.1.3    # via x\nasgiref==3.13.0\n")
    (tmp_path / "wheelhouse").mkdir()
    (tmp_path / "wheelhouse/django-6.1.3-py3-none-any.whl").write_bytes(b"x" * 10)
    found = doctor.probe_wheelhouse(tmp_path)
    assert not found.ok and "asgiref==3.13.0" in found.text
    (tmp_path / "wheelhouse/asgiref-3.13.0-py3-none-any.whl").touch()
    assert doctor.probe_wheelhouse(tmp_path).ok


def test_kernel_findings():
    assert doctor.kernel_finding({"error": None, "start": 1.0, "setup": 2.0, "problems": []}).ok
    slow = doctor.kernel_finding({"error": None, "start": 20.0, "setup": 15.0, "problems": []})
    assert slow.ok and "slow" in slow.text
    broken = doctor.kernel_finding({"error": "ModuleNotFoundError: No module named 'django'"})
    assert not broken.ok and "django" in broken.text and "make clean && make lab" in broken.fix
    unsafe = doctor.kernel_finding({"error": None, "start": 1, "setup": 1,
                                    "problems": ["DJANGO_ALLOW_ASYNC_UNSAFE is set: unset it."]})
    assert not unsafe.ok and "DJANGO_ALLOW_ASYNC_UNSAFE" in unsafe.fix


def test_summary_says_ready_or_numbers_the_fixes():
    assert doctor.summary([Finding(True, "a"), Finding(True, "b")])[-1] == "Ready."
    lines = doctor.summary([Finding(False, "a", "do A"), Finding(True, "b"), Finding(False, "c", "do C")])
    assert lines[:3] == ["  ✗ a", "  ✓ b", "  ✗ c"]
    assert lines[-3:] == ["Not ready yet. These need fixing:", "  1. do A", "  2. do C"]
    assert "Ready." not in lines


def test_doctor_on_this_machine_says_ready():
    """The real thing: a kernel starts and sets the course up (what `make doctor` runs)."""
    done = subprocess.run([sys.executable, "-m", "coursekit.doctor"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and "\nReady.\n" in done.stdout, done.stdout + done.stderr
    assert "A notebook kernel starts in" in done.stdout
