"""Tripboard's settings, with the dashboard's URLs as the root URLconf (given).

`DJANGO_SETTINGS_MODULE=dashboard.settings uvicorn dashboard.asgi:application`
"""
from tripboard.settings import *  # noqa: F401,F403

ROOT_URLCONF = "dashboard.urls"
