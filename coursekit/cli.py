"""`python -m coursekit COMMAND` (or `coursekit COMMAND`): the course's own commands."""
import argparse
import os
import secrets
import shutil
import socket
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cmd_progress(args):
    from .exercises import show_progress

    show_progress()


def cmd_exercises(args):
    from .authoring import generate_exercises

    changed = generate_exercises(write=not args.check)
    if args.check and changed:
        print("Out of date (run `make exercises`):", *[f"  {p.relative_to(ROOT)}" for p in changed], sep="\n")
        sys.exit(1)
    for path in changed:
        print(f"wrote {path.relative_to(ROOT)}")
    if not changed:
        print("exercises/ is up to date.")


def cmd_execute(args):
    from .authoring import execute, generate_exercises, lesson_and_solution_notebooks

    # The checks in these notebooks record progress: keep that out of your own .progress.json.
    os.environ.setdefault("COURSEKIT_PROGRESS_FILE", os.path.join(tempfile.mkdtemp(), "progress.json"))
    paths = [Path(p) for p in args.paths] or lesson_and_solution_notebooks()
    for path in paths:
        seconds = execute(path)
        print(f"executed {path} in {seconds:.1f} s")
    for path in generate_exercises():
        print(f"wrote {path.relative_to(ROOT)}")


def port_is_free(port):
    with socket.socket() as sock:
        # As the server itself will: a port in TIME_WAIT (a lab that just stopped) is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def cmd_lab(args):
    port = args.port
    if not port_is_free(port):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            free = sock.getsockname()[1]
        print(f"Port {port} is in use (another JupyterLab?); using {free} instead. "
              f"Choose one with `make lab PORT=NNNN`.")
        port = free
    token = os.environ.get("JUPYTER_TOKEN") or secrets.token_urlsafe(24)
    first = sorted((ROOT / "notebooks").glob("00-*.ipynb"))
    start = f"lab/tree/notebooks/{first[0].name}" if first else "lab"
    url = f"http://127.0.0.1:{port}/{start}?token={token}"
    print(f"\nJupyterLab for the course: {url}\n(Ctrl+C twice to stop it.)\n", flush=True)
    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent)) or "jupyter"
    argv = [jupyter, "lab", "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}",
            f"--LabApp.default_url=/{start}", "--ServerApp.open_browser=False",
            "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    os.execv(jupyter, argv + args.extra)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="coursekit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("progress", help="show which exercises you have passed").set_defaults(fn=cmd_progress)
    ex = sub.add_parser("exercises", help="regenerate exercises/ from solutions/")
    ex.add_argument("--check", action="store_true", help="only report stale files (exit 1 if any)")
    ex.set_defaults(fn=cmd_exercises)
    run = sub.add_parser("execute", help="re-execute notebooks and store their outputs")
    run.add_argument("paths", nargs="*", help="default: notebooks/ and solutions/")
    run.set_defaults(fn=cmd_execute)
    lab = sub.add_parser("lab", help="start JupyterLab on 127.0.0.1 with a token")
    lab.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8888))
    lab.add_argument("extra", nargs="*", help="more arguments for jupyter lab")
    lab.set_defaults(fn=cmd_lab)
    args = parser.parse_args(argv)
    args.fn(args)


if __name__ == "__main__":
    main()
