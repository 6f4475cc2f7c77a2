"""Settings for Tripboard, the course's sandbox project.

Sandbox-safe: local hosts only, a secret key generated per process unless
DJANGO_SECRET_KEY is set, SQLite in a file. Three environment variables let the
notebooks point the project at a temporary database and at the local upstream API.
"""
import os
from pathlib import Path

from django.core.management.utils import get_random_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

# A fresh key per process is fine for a sandbox: nothing signed needs to outlive it.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or get_random_secret_key()
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",          # WebSockets: consumers, channel layers (chapter 06)
    "django_tasks_db",   # a database queue for django.tasks, and its worker (chapter 07)
    "trips",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "tripboard.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "tripboard.wsgi.application"
ASGI_APPLICATION = "tripboard.asgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        # The notebooks set TRIPBOARD_DB_PATH to a file in a temporary directory.
        # A file (not ":memory:") so that every thread sees the same database.
        "NAME": os.environ.get("TRIPBOARD_DB_PATH", BASE_DIR / "db.sqlite3"),
        # Under ASGI, persistent connections are not reused across requests.
        "CONN_MAX_AGE": 0,
        "OPTIONS": {"timeout": 20},
    }
}

AUTH_PASSWORD_VALIDATORS = []
# After a login with no ?next=, the home page (Django's default, /accounts/profile/, does not exist here).
LOGIN_REDIRECT_URL = "home"
# Fast hashing: the sandbox logs users in many times per lesson. Never in production.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channels (chapter 06). The in-memory layer works inside one process only; chapter 10 swaps in
# channels_redis across processes (TRIPBOARD_CHANNEL_LAYER=redis://127.0.0.1:PORT).
if os.environ.get("TRIPBOARD_CHANNEL_LAYER", "").startswith("redis://"):
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                  "CONFIG": {"hosts": [os.environ["TRIPBOARD_CHANNEL_LAYER"]]}}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# django.tasks (chapter 07). Django's default runs each task inside the request that enqueues it;
# TRIPBOARD_TASKS_BACKEND=database queues it in the database for `manage.py db_worker`.
TASKS = {"default": {"BACKEND": {
    "immediate": "django.tasks.backends.immediate.ImmediateBackend",
    "dummy": "django.tasks.backends.dummy.DummyBackend",
    "database": "django_tasks_db.DatabaseBackend",
}[os.environ.get("TRIPBOARD_TASKS_BACKEND", "immediate")]}}

# Where the sandbox's views find the slow upstream services (weather, flights,
# hotels). In the notebooks, coursekit starts one on a free port and updates this.
UPSTREAM_BASE_URL = os.environ.get("UPSTREAM_BASE_URL", "http://127.0.0.1:8011")
UPSTREAM_TIMEOUT = float(os.environ.get("UPSTREAM_TIMEOUT", "5"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        # 404s and friends would otherwise be printed under notebook cells.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
