"""tripboard.asgi with static files served by Django itself (chapter 10), as `runserver` does.

`ASGIStaticFilesHandler` answers /static/... from the apps' static folders (the finders), reading
each file on every request: a development convenience. In production, `collectstatic` copies the
files to STATIC_ROOT and something built for it serves them (the reverse proxy, a CDN, or an app
such as WhiteNoise).
"""
from channels.routing import ProtocolTypeRouter
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

from tripboard.asgi import application as routed
from tripboard.asgi import django_asgi_app

application = ProtocolTypeRouter({
    "http": ASGIStaticFilesHandler(django_asgi_app),
    "websocket": routed.application_mapping["websocket"],
})
