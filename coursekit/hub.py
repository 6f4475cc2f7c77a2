"""The course on a JupyterHub (docs/hub.md): nbgitpuller links, and the course without its answers.

    python -m coursekit.hub learners                     # branch `learners`: HEAD less the answers
    git push origin learners
    python -m coursekit.hub link --hub https://hub.example.org
        -> https://hub.example.org/hub/user-redirect/git-pull?repo=...&branch=learners&...

A learner who opens the link logs in; nbgitpuller clones the course into ~/async-django-course
(or merges the course's updates into it), then sends them to `course-work/...`, a page of the
hub's environment (hub/course_hub) that makes their working copies with `python -m coursekit work`
and opens their copy of chapter 00 in JupyterLab.

The `learners` branch is the course without `solutions/` and without the answer tables of the
checks' tests (`tests/answers/`). Each run adds one commit on top of the branch's last one, so a
learner's clone only ever moves forward (nbgitpuller merges, it never rewrites history), and
no commit of it holds an answer.
"""
import argparse
import os
import subprocess
import sys
import tempfile
from urllib.parse import quote, urlencode

from . import workcopies

ROOT = workcopies.ROOT
LEARNERS_BRANCH = "learners"
# The clone's folder in each learner's home; hub/jupyterhub_config.py's COURSE_FOLDER says the same.
TARGETPATH = "async-django-course"
WITHOUT_ANSWERS = ("solutions", "tests/answers")
WORK_PAGE = "course-work"  # hub/course_hub: makes the working copies, then opens one


def lesson_copy(chapter="00"):
    """The working copy of a chapter's lesson, as `python -m coursekit work` names it."""
    number = workcopies.chapter_number(chapter)
    (lesson,) = workcopies.sources(["lesson"], [number])
    return lesson.copy_name


def link(hub, repo, branch=LEARNERS_BRANCH, chapter="00", targetpath=TARGETPATH):
    """An nbgitpuller link: pull `branch` of `repo` into ~/`targetpath`, then open the learner's
    copy of `chapter`'s lesson in JupyterLab."""
    opened = f"work/{lesson_copy(chapter)}"
    urlpath = f"{WORK_PAGE}/{quote(targetpath)}?" + urlencode({"open": opened}, quote_via=quote)
    query = urlencode({"repo": repo, "branch": branch, "targetpath": targetpath, "urlpath": urlpath},
                      quote_via=quote)
    return f"{hub.rstrip('/')}/hub/user-redirect/git-pull?{query}"


# --- the learners' branch ----------------------------------------------------------------
def git(*args, cwd=ROOT, env=None, check=True):
    result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def _identity(cwd):
    """Git's environment for a commit: an author and committer even where none is configured (CI)."""
    env = dict(os.environ)
    if git("var", "GIT_COMMITTER_IDENT", cwd=cwd, check=False) == "":
        env.update(GIT_AUTHOR_NAME="async-django-course", GIT_AUTHOR_EMAIL="course@localhost",
                   GIT_COMMITTER_NAME="async-django-course", GIT_COMMITTER_EMAIL="course@localhost")
    return env


def learners_branch(source="HEAD", branch=LEARNERS_BRANCH, repo=ROOT, without=WITHOUT_ANSWERS):
    """Commit `source`'s files less `without` onto `branch` (created if missing), touching neither
    the working tree nor the index. Returns (commit, made): made is False when `branch` already
    had exactly these files."""
    if git("symbolic-ref", "-q", "--short", "HEAD", cwd=repo, check=False) == branch:
        raise RuntimeError(f"`{branch}` is checked out here: switch to another branch first.")
    commit = git("rev-parse", "--verify", f"{source}^{{commit}}", cwd=repo)
    with tempfile.TemporaryDirectory() as scratch:
        env = dict(os.environ, GIT_INDEX_FILE=os.path.join(scratch, "index"))
        git("read-tree", commit, cwd=repo, env=env)
        git("rm", "-r", "--cached", "--quiet", "--ignore-unmatch", "--", *without, cwd=repo, env=env)
        tree = git("write-tree", cwd=repo, env=env)
    previous = git("rev-parse", "--verify", "-q", f"refs/heads/{branch}", cwd=repo, check=False)
    if previous and git("rev-parse", f"{previous}^{{tree}}", cwd=repo) == tree:
        return previous, False
    message = (f"The course for learners: {source} at {commit[:12]}, without "
               f"{', '.join(p + '/' for p in without)}")
    parents = ["-p", previous] if previous else []
    new = git("commit-tree", tree, *parents, "-m", message, cwd=repo, env=_identity(repo))
    git("update-ref", f"refs/heads/{branch}", new, previous or "0" * 40, cwd=repo)
    return new, True


def origin_url():
    return git("config", "--get", "remote.origin.url", check=False) or None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m coursekit.hub", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    made = sub.add_parser("learners", help="update the learners' branch: the course without its answers")
    made.add_argument("--from", dest="source", default="HEAD", help="the commit to copy (default: HEAD)")
    made.add_argument("--branch", default=LEARNERS_BRANCH)
    made_link = sub.add_parser("link", help="print the nbgitpuller link that hands learners the course")
    made_link.add_argument("--hub", required=True, help="the hub's address, e.g. https://hub.example.org")
    made_link.add_argument("--repo", help="the course's git URL (default: this clone's origin)")
    made_link.add_argument("--branch", default=LEARNERS_BRANCH)
    made_link.add_argument("--chapter", default="00", help="the lesson to open (default: 00)")
    made_link.add_argument("--targetpath", default=TARGETPATH, help="the folder in each learner's home")
    args = parser.parse_args(argv)

    try:
        if args.command == "learners":
            commit, new = learners_branch(args.source, args.branch)
            print(f"{args.branch}: {commit[:12]}, the course at {args.source} without "
                  f"{', '.join(p + '/' for p in WITHOUT_ANSWERS)}" + ("" if new else " (unchanged)"))
            print(f"Publish it: git push origin {args.branch}")
        else:
            repo = args.repo or origin_url()
            if not repo:
                sys.exit("This clone has no `origin`: give the course's git URL with --repo.")
            print(link(args.hub, repo, args.branch, args.chapter, args.targetpath))
    except (RuntimeError, ValueError) as error:
        sys.exit(str(error))


if __name__ == "__main__":
    main()
