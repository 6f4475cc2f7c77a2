"""Serve views defined in a notebook through the sandbox's real URLconf.

    from django.urls import path
    from coursekit.routes import mounted

    async def hello(request):
        return JsonResponse({"hello": "world"})

    with mounted(path("hello/", hello)):
        response = await AsyncClient().get("/hello/")     # or coursekit.asgi.request(app, "/hello/")

Inside the block, ROOT_URLCONF is a fresh module whose urlpatterns are the given
patterns followed by the sandbox's own, so every other page keeps working. The
handler resolves the URLconf per request: build it inside or outside the block alike.
"""
import contextlib
import itertools
import sys
import types

_counter = itertools.count(1)


@contextlib.contextmanager
def mounted(*patterns):
    from django.conf import settings
    from django.test.utils import override_settings
    from django.urls import include, path

    name = f"coursekit_notebook_urls_{next(_counter)}"
    module = types.ModuleType(name)
    module.urlpatterns = [*patterns, path("", include(settings.ROOT_URLCONF))]
    sys.modules[name] = module
    try:
        with override_settings(ROOT_URLCONF=name):
            yield module
    finally:
        sys.modules.pop(name, None)
