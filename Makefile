# The course's commands. Each sets up .venv first (once; again only when the pins change).
PY := .venv/bin/python
PORT ?= 8888
# A notebook's items stay on one worker (--dist loadgroup, see conftest.py). Notebooks spend most of their
# time waiting (upstream latencies, sleeps), so 3 workers beat 2 on a 2-core machine:
# measured 51-54 s against 69 s for the whole suite.
PYTEST_WORKERS ?= 3

.PHONY: help setup lab test test-fast notebooks exercises progress lock html clean

help:
	@echo "make lab        start JupyterLab on 127.0.0.1 with chapter 00 open"
	@echo "make test       run the whole test suite (what CI runs)"
	@echo "make progress   show which exercises you have passed"
	@echo "make notebooks  re-execute lessons and solutions, store outputs, regenerate exercises"
	@echo "make exercises  regenerate exercises/ from solutions/"
	@echo "make lock       re-pin requirements.txt from requirements.in"
	@echo "make html       render the executed notebooks to static HTML in site/"

setup:
	@scripts/setup-env

lab: setup
	@$(PY) -m coursekit lab --port $(PORT)

test: setup
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup -q \
	  --nbval --nbval-current-env --nbval-sanitize-with tests/nbval-sanitize.cfg

notebooks: setup
	$(PY) -m coursekit execute

exercises: setup
	$(PY) -m coursekit exercises

progress: setup
	@$(PY) -m coursekit progress

lock: setup
	$(PY) -m uv pip compile requirements.in -o requirements.txt --python-version 3.12 --no-header --annotation-style line -q

html: setup
	$(PY) -m jupyter nbconvert --to html --output-dir site/notebooks notebooks/*.ipynb
	$(PY) -m jupyter nbconvert --to html --output-dir site/solutions solutions/*.ipynb

clean:
	rm -rf .venv site
