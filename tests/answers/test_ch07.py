"""Wrong and right answers for chapter 07's exercises, with the nudge each must get."""
import pytest

from tests.answers.harness import PASS, Case, verdict_problem

CHAPTER = "07"

EXPORT = [
    Case("export-later", "ch07.W001", """
from asgiref.sync import sync_to_async
async def export_later(request, trip_id):
    export = await sync_to_async(bookings_export.call)(trip_id)
    return JsonResponse(export, status=202)
""", "the export still built in the request, off the loop"),
    Case("export-later", "ch07.W001", """
async def export_later(request, trip_id):
    return JsonResponse(bookings_export.call(trip_id))
""", "task.call() in the async view"),
    Case("export-later", "ch07.W002", """
async def export_later(request, trip_id):
    result = bookings_export.enqueue(trip_id)
    return JsonResponse({"task_id": result.id, "status": result.status}, status=202)
""", "the sync enqueue()"),
    Case("export-later", "ck.W002", """
async def export_later(request, trip_id):
    result = bookings_export.aenqueue(trip_id)
    return JsonResponse({"task_id": result.id, "status": result.status}, status=202)
""", "aenqueue without await"),
    Case("export-later", "ch07.W003", """
from asgiref.sync import sync_to_async
async def export_later(request, trip_id):
    asyncio.create_task(sync_to_async(bookings_export.call)(trip_id))
    return JsonResponse({"task_id": None, "status": "started"}, status=202)
""", "fire and forget with create_task"),
    Case("export-later", "ch07.W004", """
async def export_later(request, trip_id):
    result = await bookings_export.aenqueue(1)
    return JsonResponse({"task_id": result.id, "status": result.status}, status=202)
""", "the example trip, hard-coded"),
    Case("export-later", "ch07.W004", """
async def export_later(request, trip_id):
    result = await bookings_export.aenqueue(str(trip_id))
    return JsonResponse({"task_id": result.id, "status": result.status}, status=202)
""", "the id as a string"),
    Case("export-later", "ch07.W004", """
async def export_later(request, trip_id):
    await bookings_export.aenqueue(trip_id)
    result = await bookings_export.aenqueue(trip_id)
    return JsonResponse({"task_id": result.id, "status": result.status}, status=202)
""", "enqueued twice"),
    Case("export-later", "ch07.W005", """
async def export_later(request, trip_id):
    result = await bookings_export.aenqueue(trip_id)
    return JsonResponse({"task_id": result.id, "status": result.status})
""", "200 instead of 202"),
    Case("export-later", "ch07.W006", """
async def export_later(request, trip_id):
    result = await bookings_export.aenqueue(trip_id)
    return JsonResponse({"id": result.id, "status": "queued"}, status=202)
""", "keys and status of its own"),
    Case("export-later", "ch07.W013", """
async def export_later(request, trip_id):
    result = await bookings_export.aenqueue(trip_id)
    return {"task_id": result.id, "status": result.status}
""", "a dict, not a response"),
    Case("export-later", PASS, """
async def export_later(request, trip_id):
    result = await bookings_export.using(priority=5).aenqueue(trip_id=trip_id)
    return JsonResponse({"task_id": result.id, "status": str(result.status),
                         "status_url": f"/tasks/{result.id}/"}, status=202)
""", "a keyword argument, a priority and an extra key"),
    Case("export-later", PASS, """
from asgiref.sync import sync_to_async
async def export_later(request, trip_id):
    result = await sync_to_async(bookings_export.enqueue)(trip_id)
    return JsonResponse(dict(task_id=result.id, status=result.status), status=202)
""", "the sync enqueue() in a thread"),
]

RECEIPT = [
    Case("receipt-status", "ch07.W002", """
async def request_receipt(request, reference):
    result = send_receipt.enqueue(reference)
    return JsonResponse({"task_id": result.id}, status=202)

async def receipt_status(request, task_id):
    try:
        result = await send_receipt.aget_result(task_id)
    except TaskResultDoesNotExist:
        return JsonResponse({"error": "no such task"}, status=404)
    return JsonResponse({"status": result.status, "result": None, "error": None})
""", "the sync enqueue()"),
    Case("receipt-status", "ch07.W002", """
async def request_receipt(request, reference):
    result = await send_receipt.aenqueue(reference)
    return JsonResponse({"task_id": result.id}, status=202)

async def receipt_status(request, task_id):
    try:
        result = send_receipt.get_result(task_id)
    except TaskResultDoesNotExist:
        return JsonResponse({"error": "no such task"}, status=404)
    done = result.status == TaskResultStatus.SUCCESSFUL
    return JsonResponse({"status": result.status, "result": result.return_value if done else None, "error": None})
""", "the sync get_result()"),
    Case("receipt-status", "ch07.W009", """
async def request_receipt(request, reference):
    result = await send_receipt.aenqueue(reference)
    return JsonResponse({"task_id": result.id}, status=202)

async def receipt_status(request, task_id):
    try:
        result = await send_receipt.aget_result(task_id)
    except TaskResultDoesNotExist:
        return JsonResponse({"error": "no such task"}, status=404)
    return JsonResponse({"status": result.status, "result": result.return_value, "error": None})
""", "return_value read before the task ran"),
    Case("receipt-status", "ch07.W007", """
RECEIPTS = {}

async def request_receipt(request, reference):
    result = await send_receipt.aenqueue(reference)
    RECEIPTS[result.id] = result
    return JsonResponse({"task_id": result.id}, status=202)

async def receipt_status(request, task_id):
    result = RECEIPTS.get(task_id)
    if result is None:
        return JsonResponse({"error": "no such task"}, status=404)
    done = result.status == TaskResultStatus.SUCCESSFUL
    return JsonResponse({"status": result.status, "result": result.return_value if done else None, "error": None})
""", "the result kept from the enqueue"),
    Case("receipt-status", "ch07.W008", """
async def request_receipt(request, reference):
    result = await send_receipt.aenqueue(reference)
    return JsonResponse({"task_id": result.id}, status=202)

async def receipt_status(request, task_id):
    result = await send_receipt.aget_result(task_id)
    data = {"status": result.status, "result": None, "error": None}
    if result.status == TaskResultStatus.SUCCESSFUL:
        data["result"] = result.return_value
    elif result.status == TaskResultStatus.FAILED:
        data["error"] = result.errors[-1].exception_class_path
    return JsonResponse(data)
""", "no 404: TaskResultDoesNotExist escapes"),
    Case("receipt-status", "ch07.W008", """
async def request_receipt(request, reference):
    result = await send_receipt.aenqueue(reference)
    return JsonResponse({"task_id": result.id}, status=202)

async def receipt_status(request, task_id):
    try:
        result = await send_receipt.aget_result(task_id)
    except TaskResultDoesNotExist:
        return JsonResponse({"status": "UNKNOWN", "result": None, "error": "no such task"})
    data = {"status": result.status, "result": None, "error": None}
    if result.status == TaskResultStatus.SUCCESSFUL:
        data["result"] = result.return_value
    elif result.status == TaskResultStatus.FAILED:
        data["error"] = result.errors[-1].exception_class_path
    return JsonResponse(data)
""", "200 for an unknown id"),
    Case("receipt-status", "ch07.W010", """
async def request_receipt(request, reference):
    result = await send_receipt.aenqueue(reference)
    return JsonResponse({"task_id": result.id}, status=202)

async def receipt_status(request, task_id):
    try:
        result = await send_receipt.aget_result(task_id)
    except TaskResultDoesNotExist:
        return JsonResponse({"error": "no such task"}, status=404)
    data = {"status": str(result.status.label), "result": None, "error": None}
    if result.status == TaskResultStatus.SUCCESSFUL:
        data["result"] = result.return_value
    return JsonResponse(data)
""", "the status's label"),
    Case("receipt-status", "ch07.W011", """
async def request_receipt(request, reference):
    result = await send_receipt.aenqueue(reference)
    return JsonResponse({"task_id": result.id}, status=202)

async def receipt_status(request, task_id):
    try:
        result = await send_receipt.aget_result(task_id)
    except TaskResultDoesNotExist:
        return JsonResponse({"error": "no such task"}, status=404)
    data = {"status": result.status, "result": None, "error": None}
    if result.status == TaskResultStatus.SUCCESSFUL:
        data["result"] = result.return_value
    elif result.errors:
        data["error"] = result.errors[-1].exception_class.__name__
    return JsonResponse(data)
""", "the exception's bare class name"),
    Case("receipt-status", "ch07.W012", """
async def request_receipt(request, reference):
    result = await send_receipt.aenqueue(reference)
    return JsonResponse({"task_id": result.id}, status=202)

async def receipt_status(request, task_id):
    try:
        result = await tasks.trip_report.aget_result(task_id)
    except TaskResultDoesNotExist:
        return JsonResponse({"error": "no such task"}, status=404)
    return JsonResponse({"status": result.status, "result": None, "error": None})
""", "looked up on another task"),
    Case("receipt-status", "ch07.W014", """
async def request_receipt(request, reference):
    result = await send_receipt.aenqueue(reference)
    return JsonResponse({"task_id": result.id}, status=202)

async def receipt_status(request, task_id):
    try:
        result = await send_receipt.aget_result(task_id)
    except TaskResultDoesNotExist:
        return JsonResponse({"error": "no such task"}, status=404)
    data = {"status": result.status, "result": None, "error": None}
    if result.is_finished and not result.errors:
        data["result"] = str(result.return_value)
    elif result.errors:
        data["error"] = result.errors[-1].exception_class_path
    return JsonResponse(data)
""", "the result turned into a string"),
    Case("receipt-status", "ch07.W005", """
async def request_receipt(request, reference):
    result = await send_receipt.aenqueue(reference)
    return JsonResponse({"task_id": result.id})

async def receipt_status(request, task_id):
    return JsonResponse({"status": "READY", "result": None, "error": None})
""", "200 for the enqueue"),
    Case("receipt-status", PASS, """
async def request_receipt(request, reference):
    result = await send_receipt.aenqueue(reference=reference)
    return JsonResponse({"task_id": result.id, "status": result.status}, status=202)

async def receipt_status(request, task_id):
    try:
        result = await default_task_backend.aget_result(task_id)
    except TaskResultDoesNotExist as exc:
        return JsonResponse({"error": str(exc)}, status=404)
    match result.status:
        case TaskResultStatus.SUCCESSFUL:
            return JsonResponse({"task_id": task_id, "status": "SUCCESSFUL", "result": result.return_value,
                                 "error": None})
        case TaskResultStatus.FAILED:
            return JsonResponse({"task_id": task_id, "status": "FAILED", "result": None,
                                 "error": result.errors[0].exception_class_path})
        case other:
            return JsonResponse({"task_id": task_id, "status": other, "result": None, "error": None})
""", "the default backend, match, and extra keys"),
]

NOTICE = [
    Case("keep-the-notice", "ch07.W003", """
async def tell_partner(reference):
    async with aiohttp.ClientSession() as session:
        await fetch(session, "partners", reference)

async def checkout(request, reference):
    asyncio.create_task(tell_partner(reference))
    return JsonResponse({"reference": reference, "partner": "notified"})
""", "the original create_task"),
    Case("keep-the-notice", "ch07.W003", """
BACKGROUND = set()

async def tell_partner(reference):
    async with aiohttp.ClientSession() as session:
        await fetch(session, "partners", reference)

async def checkout(request, reference):
    task = asyncio.create_task(tell_partner(reference))
    BACKGROUND.add(task)
    task.add_done_callback(BACKGROUND.discard)
    return JsonResponse({"reference": reference, "partner": "queued", "task_id": None}, status=202)
""", "create_task with a strong reference"),
    Case("keep-the-notice", "ch07.W003", """
async def tell_partner(reference):
    async with aiohttp.ClientSession() as session:
        await fetch(session, "partners", reference)

async def checkout(request, reference):
    asyncio.shield(asyncio.ensure_future(tell_partner(reference)))
    return JsonResponse({"reference": reference, "partner": "queued", "task_id": None}, status=202)
""", "shield"),
    Case("keep-the-notice", "ch07.W003", """
import threading

async def tell_partner(reference):
    async with aiohttp.ClientSession() as session:
        await fetch(session, "partners", reference)

async def checkout(request, reference):
    threading.Thread(target=asyncio.run, args=(tell_partner(reference),), daemon=True).start()
    return JsonResponse({"reference": reference, "partner": "queued", "task_id": None}, status=202)
""", "a thread of its own"),
    Case("keep-the-notice", "ch07.W001", """
async def tell_partner(reference):
    async with aiohttp.ClientSession() as session:
        await fetch(session, "partners", reference)

async def checkout(request, reference):
    await tell_partner(reference)
    return JsonResponse({"reference": reference, "partner": "notified"})
""", "awaited in the view"),
    Case("keep-the-notice", "ch07.W001", """
async def checkout(request, reference):
    await notify_partner.acall(reference)
    return JsonResponse({"reference": reference, "partner": "queued", "task_id": None}, status=202)
""", "the task's body awaited with acall()"),
    Case("keep-the-notice", "ch07.W002", """
async def checkout(request, reference):
    result = notify_partner.enqueue(reference)
    return JsonResponse({"reference": reference, "partner": "queued", "task_id": result.id}, status=202)
""", "the sync enqueue()"),
    Case("keep-the-notice", "ch07.W004", """
async def checkout(request, reference):
    result = await send_receipt.aenqueue(reference)
    return JsonResponse({"reference": reference, "partner": "queued", "task_id": result.id}, status=202)
""", "the wrong task"),
    Case("keep-the-notice", "ch07.W005", """
async def checkout(request, reference):
    result = await notify_partner.aenqueue(reference)
    return JsonResponse({"reference": reference, "partner": "queued", "task_id": result.id})
""", "200 instead of 202"),
    Case("keep-the-notice", "ch07.W006", """
async def checkout(request, reference):
    await notify_partner.aenqueue(reference)
    return JsonResponse({"reference": reference, "partner": "queued"}, status=202)
""", "no task id"),
    Case("keep-the-notice", PASS, """
from asgiref.sync import sync_to_async

async def checkout(request, reference):
    result = await sync_to_async(notify_partner.enqueue)(reference=reference)
    return JsonResponse(dict(reference=reference, partner="queued", task_id=result.id, status=result.status),
                        status=202)
""", "the sync enqueue() in a thread, a keyword argument"),
]

CASES = EXPORT + RECEIPT + NOTICE


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_answer(runner, case):
    problem = verdict_problem(case, runner.judge(case))
    assert problem is None, problem
