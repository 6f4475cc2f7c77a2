"""Where checks and lessons put notebook-defined objects so Django can import them by dotted path.

MIDDLEWARE and similar settings name objects as "package.module.name"; a function defined
in a notebook has no such path. `dotted(obj)` sets `learner_slots.NAME = obj` and returns
"coursekit.learner_slots.NAME".
"""
import sys


def dotted(obj, name=None):
    """Give a notebook-defined object a dotted path (for MIDDLEWARE and friends)."""
    name = name or obj.__name__
    setattr(sys.modules[__name__], name, obj)
    return f"{__name__}.{name}"
