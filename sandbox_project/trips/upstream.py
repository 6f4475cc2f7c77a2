"""Clients for the slow upstream services Tripboard aggregates.

The services live at settings.UPSTREAM_BASE_URL (in the notebooks: a local aiohttp
server started by coursekit). There are two clients on purpose: a blocking one for
sync views (urllib, as `requests` would behave) and a non-blocking one for async
views (aiohttp).
"""
import json
import urllib.error
import urllib.request

import aiohttp
from django.conf import settings

SERVICES = ("weather", "flights", "hotels")


class UpstreamError(Exception):
    """An upstream service failed or answered with an error status."""

    def __init__(self, service, detail):
        super().__init__(f"{service}: {detail}")
        self.service = service
        self.detail = detail


def service_url(service, city_slug):
    return f"{settings.UPSTREAM_BASE_URL.rstrip('/')}/{service}/{city_slug}"


def fetch_sync(service, city_slug, timeout=None):
    """Blocking call: the calling thread waits for the whole round trip."""
    url = service_url(service, city_slug)
    try:
        with urllib.request.urlopen(url, timeout=timeout or settings.UPSTREAM_TIMEOUT) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        raise UpstreamError(service, f"HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError) as exc:
        raise UpstreamError(service, str(getattr(exc, "reason", exc))) from None


async def fetch(session: aiohttp.ClientSession, service, city_slug, timeout=None):
    """Non-blocking call: the event loop serves others while this one waits."""
    url = service_url(service, city_slug)
    client_timeout = aiohttp.ClientTimeout(total=timeout or settings.UPSTREAM_TIMEOUT)
    try:
        async with session.get(url, timeout=client_timeout) as response:
            if response.status >= 400:
                raise UpstreamError(service, f"HTTP {response.status}")
            return await response.json()
    except aiohttp.ClientError as exc:
        raise UpstreamError(service, str(exc) or type(exc).__name__) from None
