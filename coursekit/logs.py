"""Collect a logger's records inside a block instead of printing them under the cell.

    with capture_log("django.request") as log:     # at DEBUG by default
        app = fresh_handler()
    log.messages                                  # ["Asynchronous handler adapted for ...", ...]
"""
import logging


class capture_log:
    """Collect a logger's records at `level` inside a with block: `.records`, `.messages` afterwards.

    The logger's own handlers are set aside meanwhile, so nothing prints under the cell.
    """

    def __init__(self, name="django.request", level=logging.DEBUG):
        self.logger = logging.getLogger(name)
        self.level = level
        self.records = []

    def __enter__(self):
        outer = self

        class Collect(logging.Handler):
            def emit(self, record):
                outer.records.append(record)

        self._handler = Collect(level=self.level)
        self._old_level = self.logger.level
        self._old_handlers, self.logger.handlers = self.logger.handlers, []
        self._old_propagate, self.logger.propagate = self.logger.propagate, False
        self.logger.setLevel(self.level)
        self.logger.addHandler(self._handler)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self._handler)
        self.logger.handlers = self._old_handlers
        self.logger.propagate = self._old_propagate
        self.logger.setLevel(self._old_level)
        return False

    @property
    def messages(self):
        return [record.getMessage() for record in self.records]
