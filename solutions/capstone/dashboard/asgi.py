"""The dashboard served on its own (given): HTTP to Django, WebSockets to DashboardConsumer.

    cd sandbox_project && PYTHONPATH=<the folder that holds dashboard/> \
        DJANGO_SETTINGS_MODULE=dashboard.settings python -m uvicorn dashboard.asgi:application
"""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from .routing import websocket_urlpatterns  # noqa: E402

# A public page: no login, but a socket only from a page of this site (the Origin header).
application = ProtocolTypeRouter({
    "http": django_asgi_app,
    "websocket": AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns)),
})
