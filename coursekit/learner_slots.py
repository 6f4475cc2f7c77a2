"""Where checks put a learner's objects so Django can import them by dotted path.

MIDDLEWARE and similar settings name objects as "package.module.name"; a function
defined in a notebook has no such path. A check sets `learner_slots.NAME = obj`
and uses "coursekit.learner_slots.NAME".
"""
