"""Real servers a notebook starts on 127.0.0.1 and stops again.

- `WorkerPoolServer` (pool.py): a WSGI server with a fixed pool of worker threads, in the kernel.
- `ServerProcess` (process.py): any server as a subprocess (uvicorn, daphne, gunicorn, a task
  worker, the upstream API), started on a free port and ready when its probe answers.
- `InKernelServer` (inkernel.py): uvicorn on this kernel's own loop, sharing its settings,
  database and in-memory channel layer (WebSockets from a notebook).

Everything started here registers its stop with coursekit.cleanup: `coursekit.shutdown()`
stops whatever a notebook left running.
"""
from .pool import Served, WorkerPoolServer
from .inkernel import InKernelServer
from .process import ServerProcess, free_port

__all__ = ["WorkerPoolServer", "Served", "ServerProcess", "InKernelServer", "free_port"]
