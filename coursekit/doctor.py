"""`make doctor`: is this machine ready for the course? Run it at home, before a workshop.

It looks at the Python version, the ports the course uses on 127.0.0.1, free disk space, an
offline wheelhouse if there is one, and starts a real notebook kernel that sets the course up.
It ends with "Ready." or a numbered list of what to fix.

Every decision is a small function of plain values (`python_finding((3, 11, 4))`, ...), so the
tests can feed it any machine; `probe_*` functions measure this one.
"""
import json
import shutil
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAB_PORT = 8888
MB = 1024 ** 2
GB = 1024 ** 3
# .venv takes about 0.9 GB; the sandbox's databases and servers need little in the temp dir.
NEED_FOR_VENV = 1.5 * GB
NEED_INSTALLED = 200 * MB
NEED_TEMP = 200 * MB
KERNEL_TIMEOUT = 120
SLOW_KERNEL = 30


@dataclass
class Finding:
    ok: bool
    text: str          # what was found, one line
    fix: str = ""      # what to do about it (only when not ok)


# --- decisions --------------------------------------------------------------------------------

def python_finding(version):
    shown = ".".join(str(part) for part in version[:3])
    if tuple(version[:2]) >= (3, 12):
        return Finding(True, f"Python {shown}")
    return Finding(False, f"Python {shown} is too old",
                   f"Install Python 3.12 or newer (Django 6 needs it), then `make clean && make doctor`. "
                   f"The README's Troubleshooting section shows how.")


def lab_port_finding(free, port=LAB_PORT):
    if free:
        return Finding(True, f"Port {port} on 127.0.0.1 is free for JupyterLab")
    # Not a problem: `make lab` says so and takes another port.
    return Finding(True, f"Port {port} is in use (another JupyterLab?): `make lab` will pick a free port "
                         f"and print its URL")


def port_zero_finding(error):
    if error is None:
        return Finding(True, "Servers can start on 127.0.0.1 (any free port)")
    return Finding(False, f"Cannot open a port on 127.0.0.1: {error}",
                   "The lessons start small servers on 127.0.0.1. Allow local connections for Python in "
                   "your firewall or security software (loopback only, nothing from outside).")


def disk_finding(label, path, free_bytes, need_bytes):
    where = f"{label} ({path})"
    if free_bytes >= need_bytes:
        return Finding(True, f"Disk: {_size(free_bytes)} free for {where}")
    return Finding(False, f"Disk: only {_size(free_bytes)} free for {where}",
                   f"Free at least {_size(need_bytes - free_bytes)} more on the disk that holds {path}.")


def parse_pins(requirements_text):
    """{canonical name: version} from a requirements.txt of `name==version` lines."""
    from packaging.utils import canonicalize_name

    pins = {}
    for line in requirements_text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==", 1)
            pins[canonicalize_name(name.split("[", 1)[0].strip())] = version.strip().split(";", 1)[0].strip()
    return pins


def wheelhouse_gaps(pins, filenames, supported_tags):
    """The pins (`name==version`) that no wheel in `filenames` installs on a platform with
    `supported_tags` (a set of packaging Tags)."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename
    from packaging.version import Version

    have = set()
    for filename in filenames:
        try:
            name, version, _build, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename:
            continue
        if tags & supported_tags:
            have.add((name, version))
    return sorted(f"{name}=={version}" for name, version in pins.items() if (name, Version(version)) not in have)


def wheelhouse_finding(exists, gaps, count, total_bytes, has_uv=True):
    if not exists:
        return Finding(True, "Wheelhouse: none, so installs come from PyPI (fine with a network)")
    if gaps:
        listed = ", ".join(gaps[:5]) + (f" and {len(gaps) - 5} more" if len(gaps) > 5 else "")
        return Finding(False, f"Wheelhouse: {len(gaps)} pinned packages have no wheel for this machine: {listed}",
                       "Build it again for these pins: `make wheelhouse` (with a network), or copy a fresh "
                       "one from the workshop's USB stick. Or delete ./wheelhouse to install from PyPI.")
    note = "" if has_uv else " (no uv wheel: installs use pip, slower)"
    return Finding(True, f"Wheelhouse: {count} wheels, {_size(total_bytes)}, every pin covered: "
                         f"installs need no network{note}")


def kernel_finding(result):
    """`result`: {"error": str|None, "start": s, "setup": s, "problems": [str]} from probe_kernel."""
    if result.get("error"):
        return Finding(False, f"A notebook kernel could not run the course: {result['error']}",
                       "Run `make clean && make lab` to reinstall, then `make doctor` again. If it still "
                       "fails, show this output to the instructor.")
    if result.get("problems"):
        return Finding(False, "The kernel runs, but the course's setup check found problems",
                       " ".join(result["problems"]))
    took = result["start"] + result["setup"]
    text = (f"A notebook kernel starts in {result['start']:.1f} s and sets the course up in "
            f"{result['setup']:.1f} s")
    if took > SLOW_KERNEL:
        return Finding(True, text + ": slow (is the machine busy?), but it works")
    return Finding(True, text)


def summary(findings):
    """The report's lines: one per finding, then "Ready." or a numbered list of fixes."""
    lines = [f"  {'✓' if f.ok else '✗'} {f.text}" for f in findings]
    fixes = [f.fix for f in findings if not f.ok]
    lines.append("")
    if not fixes:
        lines.append("Ready.")
    else:
        lines.append(f"Not ready yet. {'This needs' if len(fixes) == 1 else 'These need'} fixing:")
        lines += [f"  {n}. {fix}" for n, fix in enumerate(fixes, 1)]
    return lines


def _size(nbytes):
    return f"{nbytes / GB:.1f} GB" if nbytes >= GB else f"{nbytes / MB:.0f} MB"


# --- probes: this machine ---------------------------------------------------------------------

def probe_port_free(port=LAB_PORT):
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def probe_port_zero():
    try:
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            server.listen()
            with socket.create_connection(server.getsockname(), timeout=5):
                pass
        return None
    except OSError as exc:
        return str(exc)


def probe_wheelhouse(root=ROOT):
    from packaging.tags import sys_tags

    folder = root / "wheelhouse"
    wheels = sorted(folder.glob("*.whl")) if folder.is_dir() else []
    if not wheels:
        return wheelhouse_finding(False, [], 0, 0)
    pins = parse_pins((root / "requirements.txt").read_text())
    names = [w.name for w in wheels]
    gaps = wheelhouse_gaps(pins, names, set(sys_tags()))
    return wheelhouse_finding(True, gaps, len(wheels), sum(w.stat().st_size for w in wheels),
                              has_uv=any(n.startswith("uv-") for n in names))


KERNEL_CODE = """
import asyncio, contextlib, io, json, time
_started = time.perf_counter()
import coursekit
coursekit.setup(quiet=True)
await asyncio.sleep(0.01)
with contextlib.redirect_stdout(io.StringIO()):
    from coursekit.envcheck import setup_check
    _problems = setup_check()
    await coursekit.shutdown()
print(json.dumps({"setup": time.perf_counter() - _started, "problems": _problems}))
"""


def probe_kernel(timeout=KERNEL_TIMEOUT):
    """Start the python3 kernel (this environment's), set the course up in it, time it."""
    from jupyter_client.manager import start_new_kernel

    started = time.perf_counter()
    log = tempfile.TemporaryFile("w+")  # the kernel's own messages: shown only if it fails to start
    try:
        km, kc = start_new_kernel(kernel_name="python3", cwd=str(ROOT), startup_timeout=timeout, stderr=log)
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        log.seek(0)
        last = (log.read().strip().splitlines() or [""])[-1]
        return {"error": f"the kernel did not start ({type(exc).__name__}: {exc}) {last}".strip()}
    start = time.perf_counter() - started
    out, errors = [], []

    def hook(msg):
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream" and content.get("name") == "stdout":
            out.append(content["text"])
        elif kind == "error":
            errors.append(f"{content['ename']}: {content['evalue']}")

    try:
        reply = kc.execute_interactive(KERNEL_CODE, timeout=timeout, output_hook=hook)
        if reply["content"]["status"] != "ok" or errors:
            return {"error": errors[0] if errors else reply["content"].get("evalue", "the set-up cell failed")}
        report = json.loads("".join(out).strip().splitlines()[-1])
        return {"error": None, "start": start, "setup": report["setup"], "problems": report["problems"]}
    except TimeoutError:
        return {"error": f"setting the course up took longer than {timeout} s"}
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        log.close()


def run():
    started = time.perf_counter()
    print("Checking this machine for the course ...")
    temp = Path(tempfile.gettempdir())
    installed = (ROOT / ".venv" / "bin" / "python").exists() or sys.prefix != sys.base_prefix
    findings = [
        python_finding(sys.version_info),
        lab_port_finding(probe_port_free(LAB_PORT)),
        port_zero_finding(probe_port_zero()),
        disk_finding("the course", ROOT, shutil.disk_usage(ROOT).free, NEED_INSTALLED if installed else NEED_FOR_VENV),
        disk_finding("temporary files", temp, shutil.disk_usage(temp).free, NEED_TEMP),
        probe_wheelhouse(),
    ]
    for finding in findings:  # show progress before the slowest part
        print(summary([finding])[0])
    kernel = kernel_finding(probe_kernel())
    findings.append(kernel)
    lines = summary(findings)
    print(lines[len(findings) - 1])
    print("\n".join(lines[len(findings):]) + f"\n(checked in {time.perf_counter() - started:.1f} s)")
    return 0 if all(f.ok for f in findings) else 1


if __name__ == "__main__":
    sys.exit(run())
