"""Chapter 07's views: slow work done in the request, or handed to django.tasks.

`report_now` builds a trip's report inside the request; `report_later` enqueues the same work
as a task and answers at once (202 Accepted) with the task's id; `task_status` tells a client
how that task is doing. What runs the task is settings.TASKS: Django's ImmediateBackend runs
it inside `report_later`'s own request, the database backend leaves it to `manage.py db_worker`.
"""
from django.http import JsonResponse
from django.tasks import TaskResultStatus, default_task_backend
from django.tasks.exceptions import TaskResultDoesNotExist
from django.urls import reverse

from . import tasks


def report_now(request, trip_id):
    """The report inside the request: the client waits for all of it."""
    return JsonResponse(tasks.trip_report.call(trip_id))


async def report_later(request, trip_id):
    """The report as a task: the client gets a receipt (202) and asks for the result later."""
    result = await tasks.trip_report.aenqueue(trip_id)
    return JsonResponse({"task_id": result.id, "status": result.status,
                         "status_url": reverse("task-status", args=[result.id])}, status=202)


async def task_status(request, task_id):
    """Where a task stands: READY, RUNNING, SUCCESSFUL (with its result) or FAILED (with its error)."""
    if not default_task_backend.supports_get_result:
        return JsonResponse({"error": "this task backend keeps no results"}, status=501)
    try:
        result = await default_task_backend.aget_result(task_id)
    except TaskResultDoesNotExist:
        return JsonResponse({"error": f"no task {task_id!r}"}, status=404)
    data = {"task_id": result.id, "status": result.status, "result": None, "error": None}
    if result.status == TaskResultStatus.SUCCESSFUL:
        data["result"] = result.return_value
    elif result.status == TaskResultStatus.FAILED:
        data["error"] = result.errors[-1].exception_class_path if result.errors else "unknown"
    return JsonResponse(data)
