"""Tripboard's production settings (chapter 10): the sandbox's settings, hardened until
`manage.py check --deploy` has nothing left to say.

    DJANGO_SETTINGS_MODULE=tripboard.settings_deploy DJANGO_SECRET_KEY=... \
    DJANGO_ALLOWED_HOSTS=trips.example.com python manage.py check --deploy

The site is served over HTTPS by a reverse proxy (the platform's load balancer) that talks plain
HTTP to the ASGI server and says so in the X-Forwarded-Proto header.
"""
import os

from .settings import *  # noqa: F403 (everything else as in development)
from .settings import BASE_DIR

DEBUG = False
SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]  # no fallback: a missing key must stop the deploy
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "trips.example.com").split(",")
# Origins allowed to POST (and, through AllowedHostsOriginValidator, ALLOWED_HOSTS for WebSockets).
CSRF_TRUSTED_ORIGINS = [f"https://{host}" for host in ALLOWED_HOSTS]

# HTTPS: trust the proxy's header (only behind a proxy that sets it), redirect plain HTTP, tell
# browsers to come back over HTTPS only (start small: a month), and keep cookies off plain HTTP.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
SECURE_HSTS_SECONDS = 30 * 24 * 3600
SECURE_HSTS_INCLUDE_SUBDOMAINS = True  # no subdomain of ours is served over plain HTTP either
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

# collectstatic copies every app's static files here, for the proxy or a CDN to serve.
STATIC_ROOT = BASE_DIR / "staticfiles"
