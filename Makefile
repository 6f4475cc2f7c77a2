# The course's commands. Each sets up .venv first (once; again only when the pins change).
PY := .venv/bin/python
PORT ?= 8888
# Each notebook's items stay on one worker (--dist loadfile: nbval keeps one kernel per file). Notebooks spend most of their
# time waiting (upstream latencies, sleeps), so 3 workers beat 2 on a 2-core machine:
# measured 51-54 s against 69 s for the whole suite.
PYTEST_WORKERS ?= 3

.PHONY: help setup lab reset test test-fast browser-test browser-test-all notebooks exercises progress lock html clean \
        doctor wheelhouse grade-test offline-test times guide

help:
	@echo "make lab        start JupyterLab on 127.0.0.1 with your copy of chapter 00 open"
	@echo "make reset CHAPTER=03   fresh copies of chapter 03 in work/ (no CHAPTER: every chapter)"
	@echo "make test       run the whole test suite (what CI runs)"
	@echo "make browser-test  drive JupyterLab in Chromium: Run All, a prediction, a check"
	@echo "make hub        a JupyterHub for the course on 127.0.0.1:8000 (docs/hub.md)"
	@echo "make hub-test   two learners pull the course through a real local JupyterHub and run chapter 00"
	@echo "make progress   show which exercises you have passed"
	@echo "make notebooks  re-execute lessons and solutions, store outputs, regenerate exercises"
	@echo "make exercises  regenerate exercises/ from solutions/"
	@echo "make lock       re-pin requirements.txt from requirements.in"
	@echo "make html       a static site to read offline in site/ (SOLUTIONS=1 adds the answers)"
	@echo "make doctor     check this machine before a workshop: ends with Ready. or what to fix"
	@echo "make wheelhouse  every pinned wheel in ./wheelhouse: installs then need no network"
	@echo "               (PLATFORMS=\"win_amd64 macosx_15_0_arm64\" adds other machines, for a USB stick)"
	@echo "make grade-test   real nbgrader on chapter 01: blank scores 0, solved full marks"
	@echo "make lab-figures  chapter 09's sweeps at full length, 3 runs, into docs/lab-figures.md (about 6 minutes)"
	@echo "make offline-test  a fresh install from ./wheelhouse with no network (needs root and unshare)"
	@echo "make times     measure Run All of every lesson and solution (NOTEBOOKS=\"notebooks/03-*.ipynb\": only those)"
	@echo "make guide     rewrite the tables of docs/instructors.md, and docs/nudges.md"

setup:
	@scripts/setup-env

lab: setup
	@$(PY) -m coursekit lab --port $(PORT)

reset: setup
	@$(PY) -m coursekit reset $(CHAPTER) $(if $(ONLY),--only $(ONLY))

test: setup
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile -q --ignore=sandbox_project/trips \
	  --nbval --nbval-current-env --nbval-sanitize-with tests/nbval-sanitize.cfg
	# Django's own tests of the sandbox, in a process of their own: the checks' harness points
	# Django at the sandbox's database, pytest-django at its test database.
	$(PY) -m pytest -q sandbox_project

notebooks: setup
	$(PY) -m coursekit execute

exercises: setup
	$(PY) -m coursekit exercises

progress: setup
	@$(PY) -m coursekit progress

lock: setup
	$(PY) -m uv pip compile requirements.in -o requirements.txt --python-version 3.12 --no-header --annotation-style line -q
	# The hub's pins (hub/requirements.txt) on top of the course's, so both install together.
	$(PY) -m uv pip compile hub/requirements.in -c requirements.txt -o hub/requirements.txt --python-version 3.12 --no-header --annotation-style line -q

html: setup
	@$(PY) scripts/build_site.py site $(if $(filter 1 yes true,$(SOLUTIONS)),--solutions)

# JupyterLab from `make lab`, driven in Chromium (the system's; see tests/browser/). CI runs it after `make test`.
browser-test: setup
	$(PY) -m pytest -q -p no:cacheprovider tests/browser/lab_session.py

# Every lesson and every exercise notebook (worked answers typed in) run in JupyterLab in Chromium.
browser-test-all: setup
	$(PY) -m pytest -q -p no:cacheprovider -s tests/browser/every_chapter.py

# A JupyterHub for the course on this machine (docs/hub.md): hub/.venv and the proxy, then the hub
# on 127.0.0.1:8000. COURSE_HUB_PASSWORD=... is the learners' password (unset: any password).
.PHONY: hub hub-test
hub: setup
	@hub/setup
	hub/.venv/bin/jupyterhub -f hub/jupyterhub_config.py

# Two learners through a real local JupyterHub and nbgitpuller, at once (tests/hub/). CI runs it.
hub-test: setup
	$(PY) -m pytest -q -p no:cacheprovider -s tests/hub/two_learners.py

# Before a workshop (learners, at home): Python, ports, disk, wheelhouse, a kernel that sets the course up.
doctor: setup
	@$(PY) -m coursekit.doctor

# An offline room: scripts/setup-env installs from ./wheelhouse by itself when it exists.
wheelhouse: setup
	@$(PY) scripts/wheelhouse $(PLATFORMS)

# Graded classes: nbgrader from generate_assignment to feedback (docs/instructors.md). CI runs it.
grade-test: setup
	$(PY) -m pytest -q -p no:cacheprovider -s tests/grading/nbgrader_run.py

# Chapter 09's figures: every design x endpoint x concurrency, 3 runs, beside theory and the machine's load.
.PHONY: lab-figures
lab-figures: setup
	$(PY) scripts/lab-figures --runs 3 --out docs/lab-figures.md

# scripts/setup-env in a network namespace with no network, from a fresh copy. CI runs it (as root).
offline-test: wheelhouse
	$(PY) -m pytest -q -p no:cacheprovider -s tests/offline/install_offline.py

# Run All of each notebook in a fresh kernel, from a temporary copy: figures into course-times.json.
times: setup
	$(PY) scripts/measure-times $(NOTEBOOKS)
	$(PY) scripts/build_guide.py

# The instructors' guide's tables, from the lessons, course.toml, course-times.json and the checks.
guide: setup
	$(PY) scripts/build_guide.py

clean:
	rm -rf .venv site
