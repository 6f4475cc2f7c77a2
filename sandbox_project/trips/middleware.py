"""Middleware for chapter 04: one of each kind, and a Server-Timing middleware.

None of these is in settings.MIDDLEWARE; the lessons and tests put them in a stack
with override_settings(MIDDLEWARE=[...]).
"""
import threading
import time
from inspect import iscoroutinefunction, markcoroutinefunction

from django.utils.decorators import sync_and_async_middleware


class SyncPassThrough:
    """A plain sync middleware (the default: sync_capable = True, async_capable = False)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)


class AsyncPassThrough:
    """An async-only middleware: the flags, markcoroutinefunction, and `async def __call__(self, request)`."""

    async_capable = True
    sync_capable = False

    def __init__(self, get_response):
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request):
        return await self.get_response(request)


@sync_and_async_middleware
def thread_name_header(get_response):
    """A hybrid function middleware: it reports which thread ran it (X-Middleware-Thread)."""
    if iscoroutinefunction(get_response):
        async def middleware(request):
            response = await get_response(request)
            response["X-Middleware-Thread"] = threading.current_thread().name
            return response
    else:
        def middleware(request):
            response = get_response(request)
            response["X-Middleware-Thread"] = threading.current_thread().name
            return response
    return middleware


class ServerTimingMiddleware:
    """Adds `Server-Timing: app;dur=<ms>` to every response, for sync and async stacks alike.

    Browsers show the header in their developer tools (Network > Timing). Hybrid:
    Django hands it a sync or an async get_response, and it answers in kind, so it
    never forces a thread hop.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        started = time.perf_counter()
        response = self.get_response(request)
        return self.add_header(response, started)

    async def __acall__(self, request):
        started = time.perf_counter()
        response = await self.get_response(request)
        return self.add_header(response, started)

    @staticmethod
    def add_header(response, started):
        entry = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        existing = response.get("Server-Timing")
        response["Server-Timing"] = f"{existing}, {entry}" if existing else entry
        return response
