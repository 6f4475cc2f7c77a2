"""An audit trail as older, sync code bases write it: the current user lives in a thread-local.

    set_current_user("alice")       # middleware, or the start of a view, sets it
    ...
    audit("booked oslo")            # anything later on the same thread reads it

Every entry notes the user the thread-local held, the action, and the thread it ran on.
Fine in a sync server, where one request keeps one thread from start to end; chapter 08 shows
what happens to it in async code.
"""
import threading
import time

_local = threading.local()
ENTRIES = []      # {"user", "action", "thread"} per audit() call
USERS_SET = []    # {"user", "thread"} per set_current_user() call


def set_current_user(username):
    _local.user = username
    USERS_SET.append({"user": username, "thread": threading.current_thread().name})


def current_user():
    return getattr(_local, "user", None)


def audit(action):
    time.sleep(0.01)  # the write to the audit log: sync I/O
    ENTRIES.append({"user": current_user(), "action": action, "thread": threading.current_thread().name})


def clear():
    ENTRIES.clear()
    USERS_SET.clear()
