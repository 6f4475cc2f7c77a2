"""Tripboard's live dashboard: one page per city with its weather, flights and hotels (the upstream
feeds), the trips planned there, and a WebSocket that pushes fresh feeds when they are refreshed.

You write four files (chapter 11's notebook says when and checks each step):

    feeds.py      city_feeds (milestone 1), cached_feeds (milestone 3)
    queries.py    city_trips (milestone 2)
    consumers.py  DashboardConsumer and publish (milestone 4)
    tasks.py      refresh_city (milestone 5)

The others are given, and read your functions: views.py (the page and its refresh button),
urls.py and routing.py (its addresses), settings.py and asgi.py (to serve it:
`uvicorn dashboard.asgi:application`, with this folder's parent on PYTHONPATH).
Import within the app relatively (`from .feeds import ...`): the checks also load it under
other names.
"""
