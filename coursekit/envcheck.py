"""The setup check: what this kernel runs on, and anything missing for the course."""
import asyncio
import importlib.metadata
import os
import socket
import sys
from pathlib import Path

PACKAGES = ["django", "asgiref", "aiohttp", "nest-asyncio", "ipywidgets", "ipykernel", "matplotlib",
            "jupyterlab", "channels", "daphne", "uvicorn", "nbval"]


def pins():
    path = Path(__file__).resolve().parent.parent / "requirements.txt"
    found = {}
    if path.exists():
        for line in path.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if "==" in line:
                name, version = line.split("==", 1)
                found[name.strip().lower()] = version.strip()
    return found


def setup_check():
    """Print versions and problems; return the list of problems (empty when all is well)."""
    problems = []
    pinned = pins()
    print(f"Python        {sys.version.split()[0]}")
    if sys.version_info < (3, 12):
        problems.append("Python is older than 3.12: Django 6 needs 3.12 or newer.")
    for name in PACKAGES:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            print(f"{name:<14}MISSING")
            problems.append(f"{name} is not installed: run `make lab` (or pip install -r requirements.txt).")
            continue
        want = pinned.get(name)
        flag = "" if want in (None, version) else f"   (the course pins {want})"
        print(f"{name:<14}{version}{flag}")
    try:
        asyncio.get_running_loop()
        print("Event loop    running in this thread: top-level await works")
    except RuntimeError:
        print("Event loop    none in this thread (not a Jupyter kernel?)")
    if os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE"):
        problems.append("DJANGO_ALLOW_ASYNC_UNSAFE is set: unset it, it hides the errors the course shows.")
    try:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
    except OSError as exc:
        problems.append(f"Cannot open a port on 127.0.0.1 ({exc}): the local servers need loopback.")
    try:
        import trips  # noqa: F401
        import tripboard  # noqa: F401
    except ImportError:
        problems.append("The sandbox project is not importable: run `make lab`, which installs it.")
    print()
    if problems:
        print("Problems:")
        for problem in problems:
            print(f"  - {problem}")
    else:
        print("All set: nothing missing.")
    return problems
