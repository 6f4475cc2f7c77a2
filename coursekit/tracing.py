"""Trace one request through Django's middleware stack to the view and back.

    trace = await run_sync(trace_request, "/cities/")
    print(trace)

It builds a WSGIHandler (the object `manage.py runserver` and gunicorn call) whose
MIDDLEWARE list has a TraceMiddleware slotted in front of every real middleware and
in front of the view, then calls it with a WSGI environ, like a WSGI server does.
"""
import threading
from dataclasses import dataclass, field

from . import wsgi

_events = threading.local()


def _record(*event):
    log = getattr(_events, "log", None)
    if log is not None:
        log.append(event)


def _layer_name(get_response):
    # Django wraps every layer in convert_exception_to_response(), which keeps the
    # wrapped object as __wrapped__; the bottom layer is the handler's bound method.
    inner = getattr(get_response, "__wrapped__", get_response)
    inner = getattr(inner, "__self__", inner)
    if type(inner).__name__ == "WSGIHandler":
        return None  # the bottom of the stack: URL resolution and the view
    return type(inner).__name__


class TraceMiddleware:
    """Records entering and leaving the layer below it (a middleware, or the view)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.layer = _layer_name(get_response)

    def __call__(self, request):
        _record("enter", self.layer or "view")
        response = self.get_response(request)
        _record("leave", self.layer or "view", response.status_code)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if self.layer is None:
            _record("view", f"{view_func.__module__}.{view_func.__name__}", threading.current_thread().name)


@dataclass
class Trace:
    path: str
    status: int = 0
    events: list = field(default_factory=list)
    thread: str = ""

    @property
    def middleware_order(self):
        """Middleware class names in the order the request met them."""
        return [e[1] for e in self.events if e[0] == "enter" and e[1] != "view"]

    @property
    def view(self):
        return next((e[1] for e in self.events if e[0] == "view"), None)

    def __str__(self):
        lines, depth = [f"GET {self.path}"], 1
        for event in self.events:
            if event[0] == "enter":
                if event[1] != "view":
                    lines.append("  " * depth + f"→ {event[1]}")
                depth += 1
            elif event[0] == "view":
                lines.append("  " * depth + f"★ view {event[1]}")
            else:
                depth -= 1
                if event[1] != "view":
                    lines.append("  " * depth + f"← {event[1]}  ({event[2]})")
        lines.append(f"{self.status} response, all on one thread")
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


def traced_middleware(middleware):
    """Interleave TraceMiddleware with a MIDDLEWARE list."""
    path = f"{__name__}.TraceMiddleware"
    out = []
    for dotted in middleware:
        out += [path, dotted]
    return out + [path]


def trace_request(path, method="GET"):
    """Send one request through a traced WSGIHandler, synchronously. Returns a Trace."""
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test.utils import override_settings

    with override_settings(MIDDLEWARE=traced_middleware(settings.MIDDLEWARE)):
        handler = WSGIHandler()
    trace = Trace(path, thread=threading.current_thread().name)
    _events.log = trace.events
    try:
        trace.status, _, _ = wsgi.call(handler, path, method)
    finally:
        _events.log = None
    return trace
