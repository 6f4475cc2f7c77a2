"""URLs of chapter 07's views, mounted under /tasks/."""
from django.urls import path

from . import task_views

urlpatterns = [
    path("report/<int:trip_id>/now/", task_views.report_now, name="report-now"),
    path("report/<int:trip_id>/", task_views.report_later, name="report-later"),
    path("<str:task_id>/", task_views.task_status, name="task-status"),
]
