"""Call a WSGI application in-process, the way a WSGI server would.

    status, headers, body = call(WSGIHandler(), "/health/")

`environ_for()` builds the environ once (the same keys gunicorn or wsgiref would set);
`call()` sends it, collects the status line, headers and the whole body, and closes the
response iterable as a server must. Run it on a thread with no event loop, as a WSGI worker
is: from a cell, `await call_on_thread(app, "/path/")` runs it on a fresh plain thread.
(Not `asyncio.to_thread`: a pool thread that has run sync_to_async code remembers the
kernel's loop, and async_to_sync would then run async views on that loop, not on a fresh one
per request as under a real WSGI server.)
"""
import asyncio
import concurrent.futures
import io
import threading
import wsgiref.util


def environ_for(path, method="GET", *, body=b"", headers=None):
    query = ""
    if "?" in path:
        path, query = path.split("?", 1)
    environ = {"PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": method,
               "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
               "SERVER_NAME": "127.0.0.1", "HTTP_HOST": "127.0.0.1"}
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    wsgiref.util.setup_testing_defaults(environ)
    return environ


def call(app, path, method="GET", *, body=b"", headers=None):
    """(status code, {lower-case header: value}, body bytes) for one request."""
    seen = {}

    def start_response(status, response_headers, exc_info=None):
        seen["status"], seen["headers"] = status, response_headers

    iterable = app(environ_for(path, method, body=body, headers=headers), start_response)
    try:
        content = b"".join(iterable)  # the body may be produced only now, after app() returned
    finally:
        if hasattr(iterable, "close"):
            iterable.close()
    return int(seen["status"].split()[0]), {k.lower(): v for k, v in seen["headers"]}, content


async def call_on_thread(app, path, method="GET", **kwargs):
    """call() on a new plain thread, as a WSGI server's worker would run it; awaits the result."""
    done = concurrent.futures.Future()

    def work():
        try:
            done.set_result(call(app, path, method, **kwargs))
        except BaseException as exc:  # handed to the awaiting cell
            done.set_exception(exc)

    thread = threading.Thread(target=work, name="wsgi-worker")
    thread.start()
    try:
        return await asyncio.wrap_future(done)
    finally:
        await asyncio.to_thread(thread.join)
