"""Show an error live, without a wall of traceback, and fail loudly if it does not happen.

    with raises(SynchronousOnlyOperation):
        City.objects.count()

prints the exception's type and message. If the block does *not* raise, the cell
fails with an AssertionError: the lesson's claim no longer holds.
Works as `async with` too, for code that awaits.
"""
import logging
import textwrap


class raises:
    def __init__(self, *expected, match=None):
        self.expected = expected or (Exception,)
        self.match = match
        self.exception = None

    def __enter__(self):
        # Django logs a 500 from the test client before re-raising it; the error is
        # shown below anyway, so keep the log's traceback out of the cell.
        self._logger = logging.getLogger("django.request")
        self._was_disabled, self._logger.disabled = self._logger.disabled, True
        return self

    def __exit__(self, exc_type, exc, tb):
        self._logger.disabled = self._was_disabled
        if exc_type is None:
            names = " or ".join(e.__name__ for e in self.expected)
            raise AssertionError(f"Expected {names}, but the code ran without an error.")
        if not issubclass(exc_type, self.expected):
            return False  # an unexpected error: let it show in full
        if self.match and self.match not in str(exc):
            raise AssertionError(f"{exc_type.__name__} was raised, but its message does not mention "
                                 f"{self.match!r}: {exc}") from exc
        self.exception = exc
        print(describe(exc))
        return True

    async def __aenter__(self):
        return self.__enter__()

    async def __aexit__(self, exc_type, exc, tb):
        return self.__exit__(exc_type, exc, tb)


def describe(exc, width=100):
    """`Type: message`, wrapped, the way the last line of a traceback reads."""
    name = type(exc).__name__
    message = str(exc).strip()
    if not message:
        return name
    return textwrap.fill(f"{name}: {message}", width=width, subsequent_indent="    ")
