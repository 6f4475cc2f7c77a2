"""WSGI entry point: `manage.py runserver`, gunicorn, or any WSGI server."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tripboard.settings")

application = get_wsgi_application()
