"""Wrong and right answers for chapter 04's exercises, with the nudge each must get."""
import pytest

from tests.answers.harness import PASS, Case, verdict_problem

CHAPTER = "04"

HYBRID = [
    Case("hybrid", "ch04.W001", """
def tripboard_version(get_response):
    if inspect.iscoroutinefunction(get_response):
        async def middleware(request):
            response = await get_response(request)
            response["X-Tripboard-Version"] = "6.1"
            return response
    else:
        def middleware(request):
            response = get_response(request)
            response["X-Tripboard-Version"] = "6.1"
            return response
    return middleware
""", "no decorator: Django sees the default flags"),
    Case("hybrid", "ch04.W002", """
from django.utils.decorators import async_only_middleware
@async_only_middleware
def tripboard_version(get_response):
    if inspect.iscoroutinefunction(get_response):
        async def middleware(request):
            response = await get_response(request)
            response["X-Tripboard-Version"] = "6.1"
            return response
    else:
        def middleware(request):
            response = get_response(request)
            response["X-Tripboard-Version"] = "6.1"
            return response
    return middleware
""", "async_only_middleware instead of the hybrid decorator"),
    Case("hybrid", "ch04.W003", """
@sync_and_async_middleware
def tripboard_version(get_response):
    if inspect.iscoroutinefunction(get_response):
        async def middleware(request):
            response = await get_response(request)
            response["X-Tripboard-Version"] = "6.1"
            return response
    else:
        def middleware(request):
            response = get_response(request)
            response["X-Tripboard-Version"] = "6.1"
            return response
""", "the factory forgets `return middleware`"),
    Case("hybrid", "ch04.W007", """
@sync_and_async_middleware
def tripboard_version(get_response):
    if inspect.iscoroutinefunction(get_response):
        async def middleware(request):
            response = await get_response(request)
            response["X-Tripboard-Version"] = "6.1"
    else:
        def middleware(request):
            response = get_response(request)
            response["X-Tripboard-Version"] = "6.1"
            return response
    return middleware
""", "the async branch forgets `return response`"),
    Case("hybrid", "ch04.W007", """
@sync_and_async_middleware
def tripboard_version(get_response):
    if inspect.iscoroutinefunction(get_response):
        async def middleware(request):
            response = await get_response(request)
            response["X-Tripboard-Version"] = "6.1"
            return response
    else:
        def middleware(request):
            get_response(request)["X-Tripboard-Version"] = "6.1"
    return middleware
""", "the sync branch returns nothing"),
    Case("hybrid", "ck.W001", """
@sync_and_async_middleware
def tripboard_version(get_response):
    if inspect.iscoroutinefunction(get_response):
        async def middleware(request):
            return get_response(request)
    else:
        def middleware(request):
            response = get_response(request)
            response["X-Tripboard-Version"] = "6.1"
            return response
    return middleware
""", "the async branch returns get_response's coroutine"),
    Case("hybrid", "ck.W002", """
@sync_and_async_middleware
def tripboard_version(get_response):
    if inspect.iscoroutinefunction(get_response):
        async def middleware(request):
            response = get_response(request)
            response["X-Tripboard-Version"] = "6.1"
            return response
    else:
        def middleware(request):
            response = get_response(request)
            response["X-Tripboard-Version"] = "6.1"
            return response
    return middleware
""", "the async branch without await"),
    Case("hybrid", "ch04.W004", """
@sync_and_async_middleware
def tripboard_version(get_response):
    def middleware(request):
        response = get_response(request)
        response["X-Tripboard-Version"] = "6.1"
        return response
    return middleware
""", "only the decorator added: always sync"),
    Case("hybrid", "ch04.W004", """
from asgiref.sync import async_to_sync
@sync_and_async_middleware
def tripboard_version(get_response):
    call = async_to_sync(get_response) if inspect.iscoroutinefunction(get_response) else get_response
    def middleware(request):
        response = call(request)
        response["X-Tripboard-Version"] = "6.1"
        return response
    return middleware
""", "always sync, bridging with async_to_sync itself"),
    Case("hybrid", "ch04.W005", """
from asgiref.sync import sync_to_async
@sync_and_async_middleware
def tripboard_version(get_response):
    async def middleware(request):
        if inspect.iscoroutinefunction(get_response):
            response = await get_response(request)
        else:
            response = await sync_to_async(get_response)(request)
        response["X-Tripboard-Version"] = "6.1"
        return response
    return middleware
""", "always async, bridging with sync_to_async"),
    Case("hybrid", "ch04.W008", """
@sync_and_async_middleware
def tripboard_version(get_response):
    if inspect.iscoroutinefunction(get_response):
        async def middleware(request):
            return await get_response(request)
    else:
        def middleware(request):
            response = get_response(request)
            response["X-Tripboard-Version"] = "6.1"
            return response
    return middleware
""", "the header only in the sync branch"),
    Case("hybrid", "ch04.W008", """
@sync_and_async_middleware
def tripboard_version(get_response):
    if inspect.iscoroutinefunction(get_response):
        async def middleware(request):
            response = await get_response(request)
            response["X-Tripboard-Version"] = "6.1"
            return response
    else:
        def middleware(request):
            return get_response(request)
    return middleware
""", "the header only in the async branch"),
    Case("hybrid", "ch04.W009", """
from inspect import markcoroutinefunction
class tripboard_version:
    sync_capable = async_capable = True
    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = inspect.iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
    def __call__(self, request):
        if self.is_async:
            return self.acall(request)
        self.response = self.get_response(request)
        self.response["X-Tripboard-Version"] = "6.1"
        return self.response
    async def acall(self, request):
        self.response = await self.get_response(request)
        self.response["X-Tripboard-Version"] = "6.1"
        return self.response
""", "a class keeping the response on self"),
    Case("hybrid", "ch04.W009", """
@sync_and_async_middleware
def tripboard_version(get_response):
    response = None
    if inspect.iscoroutinefunction(get_response):
        async def middleware(request):
            nonlocal response
            response = await get_response(request)
            response["X-Tripboard-Version"] = "6.1"
            return response
    else:
        def middleware(request):
            nonlocal response
            response = get_response(request)
            response["X-Tripboard-Version"] = "6.1"
            return response
    return middleware
""", "the response kept in the factory (nonlocal)"),
    Case("hybrid", "ch04.W012", """
from asgiref.sync import sync_to_async
@sync_and_async_middleware
def tripboard_version(get_response):
    if inspect.iscoroutinefunction(get_response):
        async def middleware(request):
            response = await sync_to_async(get_response)(request)
            response["X-Tripboard-Version"] = "6.1"
            return response
    else:
        def middleware(request):
            response = get_response(request)
            response["X-Tripboard-Version"] = "6.1"
            return response
    return middleware
""", "sync_to_async around the async get_response"),
    Case("hybrid", "ch04.W013", """
from asgiref.sync import async_to_sync
@sync_and_async_middleware
def tripboard_version(get_response):
    if inspect.iscoroutinefunction(get_response):
        async def middleware(request):
            response = await get_response(request)
            response["X-Tripboard-Version"] = "6.1"
            return response
    else:
        def middleware(request):
            response = async_to_sync(get_response)(request)
            response["X-Tripboard-Version"] = "6.1"
            return response
    return middleware
""", "async_to_sync around the sync get_response"),
    Case("hybrid", "ch04.W014", """
@sync_and_async_middleware
async def tripboard_version(get_response):
    async def middleware(request):
        response = await get_response(request)
        response["X-Tripboard-Version"] = "6.1"
        return response
    return middleware
""", "the factory itself async"),
    Case("hybrid", "ch04.W006", """
class tripboard_version:
    sync_capable = async_capable = True
    def __init__(self, get_response):
        self.get_response = get_response
    def __call__(self, request):
        if inspect.iscoroutinefunction(self.get_response):
            return self.__acall__(request)
        response = self.get_response(request)
        response["X-Tripboard-Version"] = "6.1"
        return response
    async def __acall__(self, request):
        response = await self.get_response(request)
        response["X-Tripboard-Version"] = "6.1"
        return response
""", "a class hybrid without markcoroutinefunction"),
    Case("hybrid", "ch04.W010", """
from django.http import HttpResponse
@sync_and_async_middleware
def tripboard_version(get_response):
    if inspect.iscoroutinefunction(get_response):
        async def middleware(request):
            await get_response(request)
            return HttpResponse(headers={"X-Tripboard-Version": "6.1"})
    else:
        def middleware(request):
            get_response(request)
            return HttpResponse(headers={"X-Tripboard-Version": "6.1"})
    return middleware
""", "a new response instead of the view's"),
    Case("hybrid", "ch04.W017", """
from django.utils.deprecation import MiddlewareMixin
class tripboard_version(MiddlewareMixin):
    def process_response(self, request, response):
        response["X-Tripboard-Version"] = "6.1"
        return response
""", "MiddlewareMixin: hybrid flags, but a sync_to_async hop per request"),
    Case("hybrid", "ch04.W017", """
from asgiref.sync import sync_to_async
def stamp(response):
    response["X-Tripboard-Version"] = "6.1"
    return response
@sync_and_async_middleware
def tripboard_version(get_response):
    if inspect.iscoroutinefunction(get_response):
        async def middleware(request):
            return await sync_to_async(stamp)(await get_response(request))
    else:
        def middleware(request):
            return stamp(get_response(request))
    return middleware
""", "the async branch stamps through sync_to_async"),
    Case("hybrid", PASS, """
from asgiref.sync import iscoroutinefunction, markcoroutinefunction
class tripboard_version:
    sync_capable = True
    async_capable = True
    def __init__(self, get_response):
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        return self.stamp(self.get_response(request))
    async def __acall__(self, request):
        return self.stamp(await self.get_response(request))
    @staticmethod
    def stamp(response):
        response.headers["X-Tripboard-Version"] = "6.1"
        return response
""", "a class with both flags and a check in __init__ (documented: accepted)"),
    Case("hybrid", PASS, """
import asyncio
from django.utils.decorators import sync_and_async_middleware as hybrid

def _stamp(response):
    response.headers["X-Tripboard-Version"] = "6.1"
    return response

@hybrid
def tripboard_version(get_response):
    async def async_middleware(request):
        return _stamp(await get_response(request))
    def sync_middleware(request):
        return _stamp(get_response(request))
    return async_middleware if asyncio.iscoroutinefunction(get_response) else sync_middleware
""", "two named inner functions, a shared helper"),
]

TIMING = [
    Case("server-timing", "ch04.W027", """
from inspect import markcoroutinefunction
class AsyncServerTiming:
    async_capable = True
    sync_capable = False
    def __init__(self, get_response):
        self.get_response = get_response
        markcoroutinefunction(self)
    async def __call__(self, request):
        started = time.perf_counter()
        response = await self.get_response(request)
        response["Server-Timing"] = f"app;dur={time.perf_counter() - started:.3f}"
        return response
""", "seconds for milliseconds"),
    Case("server-timing", "ch04.W028", """
from inspect import markcoroutinefunction
class AsyncServerTiming:
    async_capable = True
    sync_capable = False
    def __init__(self, get_response):
        self.get_response = get_response
        markcoroutinefunction(self)
    async def __call__(self, request):
        started = time.perf_counter()
        response = await self.get_response(request)
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1_000_000:.0f}"
        return response
""", "microseconds: a thousand times too big"),
    Case("server-timing", "ch04.W028", """
from inspect import markcoroutinefunction
class AsyncServerTiming:
    async_capable = True
    sync_capable = False
    def __init__(self, get_response):
        self.get_response = get_response
        markcoroutinefunction(self)
    async def __call__(self, request):
        started = time.perf_counter_ns()
        response = await self.get_response(request)
        response["Server-Timing"] = f"app;dur={time.perf_counter_ns() - started}"
        return response
""", "nanoseconds from perf_counter_ns"),
    Case("server-timing", "ch04.W029", """
from inspect import markcoroutinefunction
class AsyncServerTiming:
    async_capable = True
    sync_capable = False
    def __init__(self, get_response):
        self.get_response = get_response
        self.started = time.perf_counter()
        markcoroutinefunction(self)
    async def __call__(self, request):
        response = await self.get_response(request)
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - self.started) * 1000:.1f}"
        return response
""", "the clock started in __init__"),
    Case("server-timing", "ch04.W006", """
class AsyncServerTiming:
    async_capable = True
    sync_capable = False
    def __init__(self, get_response):
        self.get_response = get_response
    async def __call__(self, request):
        started = time.perf_counter()
        response = await self.get_response(request)
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response
""", "no markcoroutinefunction"),
    Case("server-timing", "ch04.W021", """
from inspect import markcoroutinefunction
class AsyncServerTiming:
    def __init__(self, get_response):
        self.get_response = get_response
        markcoroutinefunction(self)
    async def __call__(self, request):
        started = time.perf_counter()
        response = await self.get_response(request)
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response
""", "the flags left out"),
    Case("server-timing", "ch04.W021", """
from inspect import markcoroutinefunction
class AsyncServerTiming:
    async_capable = True
    def __init__(self, get_response):
        self.get_response = get_response
        markcoroutinefunction(self)
    async def __call__(self, request):
        started = time.perf_counter()
        response = await self.get_response(request)
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response
""", "sync_capable left at its default True"),
    Case("server-timing", "ch04.W022", """
from inspect import markcoroutinefunction
class AsyncServerTiming:
    async_capable = True
    sync_capable = False
    def __init__(self, get_response):
        self.get_response = get_response
        markcoroutinefunction(self)
    async def __call__(self, request, get_response):
        started = time.perf_counter()
        response = await get_response(request)
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response
""", "the circulating __call__(self, request, get_response)"),
    Case("server-timing", "ch04.W032", """
from inspect import markcoroutinefunction
class AsyncServerTiming:
    async_capable = True
    sync_capable = False
    def __init__(self, get_response):
        self.get_response = get_response
        markcoroutinefunction(self)
    async def __call__(self, request):
        self.started = time.perf_counter()
        response = await self.get_response(request)
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - self.started) * 1000:.1f}"
        return response
""", "the start time kept on self"),
    Case("server-timing", "ch04.W030", """
from inspect import markcoroutinefunction
class AsyncServerTiming:
    async_capable = True
    sync_capable = False
    def __init__(self, get_response):
        self.get_response = get_response
        markcoroutinefunction(self)
    async def __call__(self, request):
        response = await self.get_response(request)
        response["Server-Timing"] = "app;dur=101.4"
        return response
""", "the example's number, hard-coded"),
    Case("server-timing", "ch04.W031", """
from inspect import markcoroutinefunction
class AsyncServerTiming:
    async_capable = True
    sync_capable = False
    def __init__(self, get_response):
        self.get_response = get_response
        markcoroutinefunction(self)
    async def __call__(self, request):
        response = await self.get_response(request)
        started = time.perf_counter()
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response
""", "the clock started after the await"),
    Case("server-timing", "ch04.W012", """
from inspect import markcoroutinefunction
from asgiref.sync import sync_to_async
class AsyncServerTiming:
    async_capable = True
    sync_capable = False
    def __init__(self, get_response):
        self.get_response = get_response
        markcoroutinefunction(self)
    async def __call__(self, request):
        started = time.perf_counter()
        response = await sync_to_async(self.get_response)(request)
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response
""", "sync_to_async around the async get_response"),
    Case("server-timing", "ck.E005", """
from inspect import markcoroutinefunction
from asgiref.sync import async_to_sync
class AsyncServerTiming:
    async_capable = True
    sync_capable = False
    def __init__(self, get_response):
        self.get_response = get_response
        markcoroutinefunction(self)
    async def __call__(self, request):
        started = time.perf_counter()
        response = async_to_sync(self.get_response)(request)
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response
""", "async_to_sync inside async __call__"),
    Case("server-timing", "ch04.W007", """
from inspect import markcoroutinefunction
class AsyncServerTiming:
    async_capable = True
    sync_capable = False
    def __init__(self, get_response):
        self.get_response = get_response
        markcoroutinefunction(self)
    async def __call__(self, request):
        started = time.perf_counter()
        response = await self.get_response(request)
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
""", "forgets to return the response"),
    Case("server-timing", "ch04.W026", """
from inspect import markcoroutinefunction
class AsyncServerTiming:
    async_capable = True
    sync_capable = False
    def __init__(self, get_response):
        self.get_response = get_response
        markcoroutinefunction(self)
    async def __call__(self, request):
        started = time.perf_counter()
        response = await self.get_response(request)
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}ms"
        return response
""", "a unit after the number"),
    Case("server-timing", "ch04.W024", """
from inspect import markcoroutinefunction
class AsyncServerTiming:
    async_capable = True
    sync_capable = False
    def __init__(self, get_response):
        self.get_response = get_response
        markcoroutinefunction(self)
    def __call__(self, request):
        return self.get_response(request)
""", "a plain def __call__"),
    Case("server-timing", "ch04.W020", """
@sync_and_async_middleware
def AsyncServerTiming(get_response):
    async def middleware(request):
        started = time.perf_counter()
        response = await get_response(request)
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response
    return middleware
""", "a function where a class was asked for"),
    Case("server-timing", PASS, """
from asgiref.sync import markcoroutinefunction
class AsyncServerTiming:
    async_capable, sync_capable = True, False
    def __init__(self, get_response):
        self.get_response = get_response
        markcoroutinefunction(self)
    async def __call__(self, request):
        t0 = time.monotonic_ns()
        try:
            response = await self.get_response(request)
        finally:
            elapsed_ms = (time.monotonic_ns() - t0) / 1e6
        response.headers["Server-Timing"] = "app;dur=" + str(round(elapsed_ms, 2))
        return response
""", "monotonic_ns, asgiref's marker, headers[...]"),
    Case("server-timing", PASS, """
from inspect import markcoroutinefunction
class AsyncServerTiming:
    async_capable = True
    sync_capable = False
    def __init__(self, get_response):
        self.get_response = get_response
        markcoroutinefunction(self)
    async def __call__(self, request):
        start = time.time()
        response = await self.get_response(request)
        ms = int((time.time() - start) * 1000)
        existing = response.get("Server-Timing")
        response["Server-Timing"] = ", ".join(filter(None, [existing, f'app;desc="view";dur={ms}']))
        return response
""", "time.time, whole ms, a desc parameter first"),
]

TIMING.append(Case("server-timing", PASS, """
import inspect
class AsyncServerTiming:
    async_capable = True
    sync_capable = False
    def __init__(self, get_response):
        self.get_response = get_response
        inspect.markcoroutinefunction(self)
    async def __call__(self, request):
        request.timing_started = time.perf_counter()
        response = await self.get_response(request)
        response["Server-Timing"] = "app;dur=%.1f" % ((time.perf_counter() - request.timing_started) * 1e3)
        return response
""", "the start time kept on the request (each request's own)"))

CULPRITS = [
    Case("find-culprits", "ch04.W045", """
def adapted_lines(stack):
    with override_settings(DEBUG=True, MIDDLEWARE=stack), capture_log() as log:
        fresh_handler()
    return log.messages

async def find_culprits(stack):
    names = {line.split("adapted for middleware ")[1].rstrip(".") for line in adapted_lines(stack)}
    return [m for m in stack if m in names]
""", "blames every name in the adapted lines"),
    Case("find-culprits", "ch04.W047", """
def adapted_lines(stack):
    with override_settings(DEBUG=True, MIDDLEWARE=stack), capture_log() as log:
        fresh_handler()
    return log.messages

async def find_culprits(stack):
    for line in adapted_lines(stack):
        if line.startswith("Asynchronous handler adapted"):
            return [line.removeprefix("Asynchronous handler adapted for middleware ").rstrip(".")]
    return []
""", "stops after the first culprit"),
    Case("find-culprits", "ch04.W048", """
def adapted_lines(stack):
    with override_settings(DEBUG=True, MIDDLEWARE=stack), capture_log() as log:
        fresh_handler()
    return log.messages

async def find_culprits(stack):
    logged = [line.removeprefix("Asynchronous handler adapted for middleware ").rstrip(".")
              for line in adapted_lines(stack) if line.startswith("Asynchronous handler adapted")]
    return [m for m in stack if m in logged]
""", "one pass over the log: misses a sync layer on top of a sync one"),
    Case("find-culprits", "ch04.W042", """
def adapted_lines(stack):
    with override_settings(DEBUG=True, MIDDLEWARE=stack), capture_log() as log:
        fresh_handler()
    return log.messages

async def find_culprits(stack):
    culprits, remaining = [], list(stack)
    while True:
        logged = [line.rstrip(".").rsplit(".", 1)[-1] for line in adapted_lines(remaining)
                  if line.startswith("Asynchronous handler adapted")]
        if not logged:
            return culprits
        culprits += logged
        remaining = [m for m in remaining if m.rsplit(".", 1)[-1] not in logged]
""", "class names instead of dotted paths"),
    Case("find-culprits", "ch04.W041", """
from django.utils.module_loading import import_string

async def find_culprits(stack):
    return {m for m in stack if not getattr(import_string(m), "async_capable", False)}
""", "a set: the order is lost"),
    Case("find-culprits", "ch04.W043", """
def adapted_lines(stack):
    with override_settings(DEBUG=True, MIDDLEWARE=stack), capture_log() as log:
        fresh_handler()
    return log.messages

async def find_culprits(stack):
    culprits, remaining = [], list(stack)
    while True:
        logged = [line.removeprefix("Asynchronous handler adapted for middleware ")
                  for line in adapted_lines(remaining) if line.startswith("Asynchronous handler adapted")]
        if not logged:
            return culprits
        culprits = logged + culprits
        remaining = [m for m in remaining if m + "." not in logged]
""", "the log line's final '.' kept"),
    Case("find-culprits", "ch04.W044", """
async def find_culprits(stack):
    culprits, remaining = [], list(stack)
    while True:
        with override_settings(MIDDLEWARE=remaining), capture_log() as log:
            fresh_handler()
        logged = [line.removeprefix("Asynchronous handler adapted for middleware ").rstrip(".")
                  for line in log.messages if line.startswith("Asynchronous handler adapted")]
        if not logged:
            return [m for m in stack if m in culprits]
        culprits += logged
        remaining = [m for m in remaining if m not in logged]
""", "relies on the sandbox's DEBUG = True"),
    Case("find-culprits", "ch04.W049", """
def adapted_lines(stack):
    with override_settings(DEBUG=True, MIDDLEWARE=stack), capture_log() as log:
        fresh_handler()
    return log.messages

async def find_culprits(stack):
    culprits, remaining = [], list(stack)
    while True:
        logged = [line.removeprefix("Asynchronous handler adapted for middleware ").rstrip(".")
                  for line in adapted_lines(remaining) if line.startswith("Asynchronous handler adapted")]
        if not logged:
            return culprits
        culprits += logged
        remaining = [m for m in remaining if m not in logged]
""", "in the order the log found them"),
    Case("find-culprits", "ch04.W046", """
from django.utils.module_loading import import_string

async def find_culprits(stack):
    return [m for m in stack if getattr(import_string(m), "sync_capable", True)]
""", "every middleware that can run sync"),
    Case("find-culprits", "ch04.W045", """
import inspect
from django.utils.module_loading import import_string

async def find_culprits(stack):
    return [m for m in stack if not inspect.iscoroutinefunction(import_string(m))]
""", "iscoroutinefunction on the class instead of the flags"),
    Case("find-culprits", "ch04.W040", """
from django.utils.module_loading import import_string

async def find_culprits(stack):
    return ", ".join(m for m in stack if not getattr(import_string(m), "async_capable", False))
""", "a string"),
    Case("find-culprits", "ch04.W040", """
from django.utils.module_loading import import_string

async def find_culprits(stack):
    classes = [import_string(m) for m in stack]
    return [c for c in classes if getattr(c, "sync_capable", True) and not getattr(c, "async_capable", False)]
""", "the middleware objects instead of their paths"),
    Case("find-culprits", PASS, """
from django.utils.module_loading import import_string

async def find_culprits(stack):
    found = []
    for path in stack:
        middleware = import_string(path)
        if getattr(middleware, "sync_capable", True) and not getattr(middleware, "async_capable", False):
            found.append(path)
    return found
""", "reads each middleware's flags"),
    Case("find-culprits", PASS, """
PREFIX = "Asynchronous handler adapted for middleware "

async def find_culprits(stack, _found=None):
    with override_settings(DEBUG=True, MIDDLEWARE=[m for m in stack if m not in (_found or [])]), \\
            capture_log("django.request") as log:
        fresh_handler()
    new = {msg[len(PREFIX):-1] for msg in log.messages if msg.startswith(PREFIX)}
    if not new:
        return [m for m in stack if m in (_found or [])]
    return await find_culprits(stack, (_found or []) + sorted(new))
""", "the log, recursively, until it is empty"),
    Case("find-culprits", PASS, """
from django.utils.module_loading import import_string

def find_culprits(stack):
    return [m for m in stack if (getattr(import_string(m), "sync_capable", True),
                                 getattr(import_string(m), "async_capable", False)) == (True, False)]
""", "a plain def reading the flags"),
]

CASES = HYBRID + TIMING + CULPRITS


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_answer(runner, case):
    problem = verdict_problem(case, runner.judge(case))
    assert problem is None, problem
