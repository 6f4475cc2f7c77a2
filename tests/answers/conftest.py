import pytest

from tests.answers.harness import ChapterRunner


@pytest.fixture(scope="module")
def runner(request, django_db_blocker):
    # The checks use the sandbox's own database file (coursekit.setup()), from several threads,
    # as in a notebook: not pytest-django's test database.
    with django_db_blocker.unblock():
        chapter = ChapterRunner(request.module.CHAPTER, getattr(request.module, "PRELUDE", None))
        yield chapter
        chapter.close()
