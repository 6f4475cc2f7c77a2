import pytest

from tests.answers.harness import ChapterRunner


@pytest.fixture(scope="module")
def runner(request, django_db_blocker):
    # The checks use the sandbox's own database file (coursekit.setup()), from several threads,
    # as in a notebook: not pytest-django's test database. coursekit.setup() repoints Django's
    # default database; point it back when the table ends, so that later tests in this process
    # find the database pytest-django set up.
    from django.conf import settings
    from django.db import connections

    database = settings.DATABASES["default"]
    before = database["NAME"]
    with django_db_blocker.unblock():
        chapter = ChapterRunner(request.module.CHAPTER, getattr(request.module, "PRELUDE", None))
        try:
            yield chapter
        finally:
            chapter.close()
            connections.close_all()
            database["NAME"] = before
