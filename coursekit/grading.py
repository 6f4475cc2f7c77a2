"""Graded classes with nbgrader: the grading mode, and a course directory to start from.

The grading mode (environment variable COURSEKIT_GRADING=1): a check that does not pass shows its
verdict, then raises AssertionError with the verdict's text, so nbgrader gives its cell 0 points
and its feedback shows why. Learners never see this mode: their checks only show verdicts. A check
that could not judge (the machine was too busy) is run up to twice more before it counts as failed,
and its message says so. Nothing is recorded in anyone's progress while grading.

    python -m coursekit.grading init ~/grading 01 03     # a course directory for chapters 01 and 03

writes nbgrader_config.py (grading mode on, a cell time limit for checks) and
source/chNN/NN-slug.ipynb from solutions/ (they carry nbgrader's metadata already).
docs/instructors.md has the rest.
"""
import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = "COURSEKIT_GRADING"
EXTRA_RUNS = 2

CONFIG = '''\
# nbgrader's configuration for the async Django course (python -m coursekit.grading init wrote it).
import os

c = get_config()  # noqa: F821
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))

# The grading mode: a check that does not pass raises, so its cell scores 0 (learners' notebooks
# only show verdicts). The kernels nbgrader starts inherit this process's environment.
os.environ["COURSEKIT_GRADING"] = "1"

# A check runs the learner's code with its own time limits, and on a busy machine it runs again
# rather than call a right answer wrong: give each cell minutes, not nbgrader's default 30 s.
c.Execute.timeout = 600
'''


def enabled():
    return os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes", "on")


async def settle(judge, verdict):
    """In grading mode, judge again (up to EXTRA_RUNS times) while the verdict is "not judged".
    Returns (verdict, extra runs made)."""
    runs = 0
    while not verdict.judged and runs < EXTRA_RUNS:
        runs += 1
        print(f"NOT JUDGED · {verdict.exercise}: the machine was too busy; grading runs the check again "
              f"({runs} of {EXTRA_RUNS}).")
        verdict = await judge()
    return verdict, runs


def failure_text(verdict, extra_runs=0):
    text = verdict.text()
    if not verdict.judged:
        text += (f"\n  Scored 0 because the check could not judge the answer in {1 + extra_runs} tries: "
                 f"the machine was too busy, not necessarily the answer wrong. Grade again on a quieter "
                 f"machine: nbgrader autograde ASSIGNMENT --student STUDENT --force")
    return text


def conclude(verdict, extra_runs=0):
    """Show the verdict, then raise AssertionError carrying its text (a check that did not pass)."""
    __tracebackhide__ = True  # noqa: F841 - IPython leaves this frame out of the traceback
    from IPython import get_ipython
    from IPython.display import display

    if get_ipython() is None:  # a plain Python process (a script, a test)
        print(verdict.text())
    else:
        display(verdict)
    raise AssertionError(failure_text(verdict, extra_runs))


# --- a course directory for nbgrader ------------------------------------------------------------

def solution_notebooks(chapters=()):
    found = sorted((ROOT / "solutions").glob("*.ipynb"))
    if chapters:
        wanted = {c.zfill(2) for c in chapters}
        found = [p for p in found if p.name[:2] in wanted]
        missing = wanted - {p.name[:2] for p in found}
        if missing:
            raise SystemExit(f"No solutions for chapter(s) {', '.join(sorted(missing))} in {ROOT / 'solutions'}")
    return found


def assignment_name(solution_path):
    return f"ch{Path(solution_path).name[:2]}"


def init(course_dir, chapters=(), course_id="async-django"):
    """Write nbgrader_config.py and source/chNN/ (one assignment per chapter) into course_dir."""
    course_dir = Path(course_dir)
    course_dir.mkdir(parents=True, exist_ok=True)
    config = course_dir / "nbgrader_config.py"
    if not config.exists():
        config.write_text(CONFIG.format(course_id=course_id))
    made = []
    for solution in solution_notebooks(chapters):
        target = course_dir / "source" / assignment_name(solution) / solution.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(solution, target)
        made.append(target)
    return config, made


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m coursekit.grading",
                                     description="Set up an nbgrader course directory from solutions/.")
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("init", help="write nbgrader_config.py and source/chNN/ into a course directory")
    start.add_argument("course_dir")
    start.add_argument("chapters", nargs="*", help="chapter numbers (default: every chapter)")
    start.add_argument("--course-id", default="async-django")
    args = parser.parse_args(argv)
    config, made = init(args.course_dir, args.chapters, args.course_id)
    print(f"{config}")
    for path in made:
        print(f"{path}")
    print(f"Next: cd {args.course_dir} && nbgrader generate_assignment {assignment_name(made[0]) if made else 'chNN'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
