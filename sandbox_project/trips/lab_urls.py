"""URLs of the performance lab (chapter 09), mounted under /lab/: each kind of work, sync and async."""
from django.urls import path

from . import lab_views

urlpatterns = [
    path("io/sync/", lab_views.io_sync, name="lab-io-sync"),
    path("io/async/", lab_views.io_async, name="lab-io-async"),
    path("cpu/sync/", lab_views.cpu_sync, name="lab-cpu-sync"),
    path("cpu/async/", lab_views.cpu_async, name="lab-cpu-async"),
    path("db/sync/", lab_views.db_sync, name="lab-db-sync"),
    path("db/async/", lab_views.db_async, name="lab-db-async"),
    path("write/sync/", lab_views.write_sync, name="lab-write-sync"),
    path("write/async/", lab_views.write_async, name="lab-write-async"),
]
