"""`python -m coursekit COMMAND` (or `coursekit COMMAND`): the course's own commands."""
import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

from . import workcopies

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

    # The checks in these notebooks record progress: keep that out of your own record.
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


def free_port(wanted):
    if port_is_free(wanted):
        return wanted
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    print(f"Port {wanted} is in use (another JupyterLab?); using {free} instead. "
          f"Choose one with `make lab PORT=NNNN`.")
    return free


def shown(path):
    """A path as the learner should read it: relative to the course when it is inside."""
    path = Path(path)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def say_what_is_new_in_work(work, first_launch):
    made = workcopies.ensure(work)
    if first_launch:
        print(f"Your own copies of the lessons and exercises are in {shown(work)}/ ({len(made)} notebooks): "
              "run and change them freely;\nthe course's own notebooks stay as they are. "
              "`make reset CHAPTER=NN` gives you a fresh copy of a chapter.")
    elif made:
        print(f"New in the course, copied into {shown(work)}/:", *[f"  {p.name}" for p in made], sep="\n")
    stale = workcopies.outdated(work)
    if stale:
        print("Changed in the course since you made your copy (yours is kept as it is):",
              *[f"  {copy.name}: for the new version, `make reset CHAPTER={source.chapter} ONLY={source.kind}`"
                for copy, source in stale],
              f"  (a copy that is replaced goes to {shown(work / workcopies.BACKUPS)}/)", sep="\n")


def server_answers(port, token):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/status",
                                     headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status == 200
    except OSError:  # refused, not yet listening, or an HTTP error
        return False


def stop_with_this_process():
    """In the child, before it runs JupyterLab: on Linux, if this command is killed outright
    (kill -9, a crashed terminal), the kernel stops JupyterLab too instead of leaving it running."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: Ctrl+C and kill still stop it through this command


def stop(process):
    """Stop JupyterLab the way Ctrl+C in its own terminal would: it shuts its kernels down."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def cmd_lab(args):
    port = free_port(args.port)
    token = os.environ.get("JUPYTER_TOKEN") or secrets.token_urlsafe(24)
    work = workcopies.work_dir()
    say_what_is_new_in_work(work, first_launch=not work.exists())
    work.mkdir(parents=True, exist_ok=True)
    lessons = [s for s in workcopies.sources(["lesson"]) if s.chapter == "00"] or workcopies.sources(["lesson"])
    opened = work / lessons[0].copy_name if lessons else work
    start = "lab/tree/" + quote(Path(os.path.relpath(opened, ROOT)).as_posix())
    url = f"http://127.0.0.1:{port}/{start}?token={quote(token, safe='')}"

    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent)) or "jupyter"
    argv = [jupyter, "lab", "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={ROOT}", f"--LabApp.default_url=/{start}", "--ServerApp.open_browser=False",
            "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    log_path = work / ".jupyterlab.log"
    # Jupyter's own banner (a URL with a placeholder token) and its log go to a file: the one URL
    # to open is printed below once the server answers. The token travels in the environment,
    # not on the command line, where other users of the machine could read it. Its own session:
    # Ctrl+C reaches this process only, which stops JupyterLab cleanly (no "Shutdown? (y/[n])").
    with open(log_path, "w") as log:
        process = subprocess.Popen(argv + args.extra, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, env={**os.environ, "JUPYTER_TOKEN": token},
                                   start_new_session=True, preexec_fn=stop_with_this_process)
    # A closed terminal or a `kill` stops JupyterLab too, like Ctrl+C.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
    started = time.monotonic()
    try:
        while not server_answers(port, token):
            if process.poll() is not None:
                print(f"JupyterLab stopped before it was ready. The end of its log ({shown(log_path)}):\n")
                print("".join(log_path.read_text().splitlines(keepends=True)[-15:]))
                sys.exit(1)
            time.sleep(0.1)
        print(f"\nJupyterLab is ready ({time.monotonic() - started:.1f} s). Open:\n\n    {url}\n\n"
              f"Ctrl+C stops it. Its log: {shown(log_path)}\n", flush=True)
        process.wait()
        print(f"JupyterLab stopped (exit status {process.returncode}); its log: {shown(log_path)}")
        sys.exit(process.returncode or 0)
    except KeyboardInterrupt:
        print("\nStopping JupyterLab and its kernels ...", flush=True)
        stop(process)
        print("Stopped.")


def cmd_work(args):
    work = workcopies.work_dir()
    say_what_is_new_in_work(work, first_launch=not work.exists())
    if args.solutions:
        numbers = [workcopies.chapter_number(n) for n in args.solutions]
        for path in workcopies.add_solutions(numbers, work):
            print(f"Copied {shown(path)}")
    print(f"Your copies: {shown(work)}/")


def cmd_reset(args):
    try:
        numbers = [workcopies.chapter_number(n) for n in args.chapters] or None
    except ValueError as error:
        sys.exit(str(error))
    work = workcopies.work_dir()
    if numbers is None and not args.yes and sys.stdin.isatty():
        reply = input(f"Replace your copies of every chapter with fresh ones? The ones you changed move to "
                      f"{shown(work / workcopies.BACKUPS)}/. [y/N] ")
        if reply.strip().lower() not in ("y", "yes"):
            sys.exit("Nothing was changed. One chapter: make reset CHAPTER=03")
    done = workcopies.reset(numbers, work, kinds=[args.only] if args.only else None)
    backups = {backup.parent for _, backup in done if backup}
    which = f"chapter{'s' if len(numbers or []) != 1 else ''} {', '.join(numbers)}" if numbers else "every chapter"
    print(f"Fresh copies of {which}:", *[f"  {shown(fresh)}" for fresh, _ in done], sep="\n")
    if backups:
        print(f"What they replaced is in {shown(backups.pop())}/.\n"
              "A notebook that is open in JupyterLab: choose Revert when it says the file changed on disk.")


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
    lab = sub.add_parser("lab", help="start JupyterLab on 127.0.0.1 with a token, on your copy of chapter 00")
    lab.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8888))
    lab.add_argument("extra", nargs="*", help="more arguments for jupyter lab")
    lab.set_defaults(fn=cmd_lab)
    work = sub.add_parser("work", help="make your copies of the notebooks that are missing in work/")
    work.add_argument("--solutions", nargs="+", metavar="CHAPTER", help="also copy these chapters' solutions")
    work.set_defaults(fn=cmd_work)
    reset = sub.add_parser("reset", help="replace your copies of chapters with fresh ones (the old ones are kept)")
    reset.add_argument("chapters", nargs="*", metavar="CHAPTER", help="e.g. 03; default: every chapter")
    reset.add_argument("--only", choices=list(workcopies.FOLDERS), help="only the lesson, exercises or solutions")
    reset.add_argument("--yes", action="store_true", help="do not ask before resetting every chapter")
    reset.set_defaults(fn=cmd_reset)
    args = parser.parse_args(argv)
    args.fn(args)


if __name__ == "__main__":
    main()
