"""ASGI entry point: `uvicorn tripboard.asgi:application` (from sandbox_project/)."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tripboard.settings")

application = get_asgi_application()
