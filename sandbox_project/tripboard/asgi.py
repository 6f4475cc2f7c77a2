"""ASGI entry point: `uvicorn tripboard.asgi:application` (from sandbox_project/).

HTTP goes to Django as before. WebSockets (chapter 06) go to Channels' consumers, behind two
guards: the Origin header must name one of ALLOWED_HOSTS (a page on another site cannot open a
socket with the visitor's cookies), and the session cookie gives each connection its user.
"""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tripboard.settings")

# Set Django up (apps, models) before importing anything that touches them: the consumers do.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from trips.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({
    "http": django_asgi_app,
    "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
})
