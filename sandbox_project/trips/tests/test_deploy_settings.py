"""tripboard.settings_deploy (chapter 10): `check --deploy` leaves only the preload decision."""
import os
import re
import subprocess
import sys
from pathlib import Path

from django.core.management.utils import get_random_secret_key

SANDBOX = Path(__file__).resolve().parents[2]


def check_deploy(module, **env):
    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy"], cwd=SANDBOX, capture_output=True,
                          text=True, timeout=120,
                          env={**os.environ, "DJANGO_SETTINGS_MODULE": module, **env})
    return done.returncode, set(re.findall(r"\((security\.W\d+)\)", done.stdout + done.stderr))


def test_the_deploy_settings_fix_every_warning_but_hsts_preload():
    code, warnings = check_deploy("tripboard.settings_deploy", DJANGO_SECRET_KEY=get_random_secret_key())
    assert code == 0 and warnings == {"security.W021"}


def test_the_development_settings_have_the_warnings_the_lesson_shows():
    code, warnings = check_deploy("tripboard.settings", DJANGO_DEBUG="1")
    assert code == 0
    assert warnings == {"security.W004", "security.W008", "security.W012", "security.W016", "security.W018"}


def test_the_deploy_settings_refuse_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=SANDBOX, capture_output=True, text=True,
                          timeout=120, env={**env, "DJANGO_SETTINGS_MODULE": "tripboard.settings_deploy"})
    assert done.returncode != 0 and "DJANGO_SECRET_KEY" in done.stderr
