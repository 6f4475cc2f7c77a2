"""Chapter 08's views: the pitfalls of async code, live.

- `trip_costs_blocking` calls a sync helper that blocks the event loop for 0.3 s, the kind of
  call (`requests.get`, a blocking SDK) that hides inside helper modules; `trip_costs` is the same
  page with the helper moved off the loop (`sync_to_async`).
- `city_card` is the view chapter 08's "write the test" exercise tests.
- `forecast` calls an async service within a budget: tests show its timeout without waiting.
- `pay` is a stand-in payment provider for the exercises (async, about 0.15 s).
"""
import asyncio
import time

from asgiref.sync import sync_to_async
from django.http import JsonResponse

from .models import City

RATES = {"EUR": 1.0, "USD": 1.08, "JPY": 162.0, "NOK": 11.6}


def format_price(amount, currency):
    return f"{amount:,.2f} {currency}"


def load_exchange_rates():
    """Today's rates from the bank. Sync, as many helper libraries are."""
    time.sleep(0.3)  # stands for a blocking HTTP call: requests.get(...) waiting 0.3 s for the bank
    return dict(RATES)


def to_euros(amount, currency, rates):
    return amount / rates[currency]


async def trip_costs_blocking(request):
    """Convert a trip's costs. The helper blocks the event loop, and every request on it, for 0.3 s."""
    currency = request.GET.get("currency", "JPY")
    rates = load_exchange_rates()
    return JsonResponse({"currency": currency, "hotel": format_price(to_euros(48600, currency, rates), "EUR")})


async def trip_costs(request):
    """The same page: the sync helper runs on a worker thread while the loop serves others."""
    currency = request.GET.get("currency", "JPY")
    rates = await sync_to_async(load_exchange_rates)()
    return JsonResponse({"currency": currency, "hotel": format_price(to_euros(48600, currency, rates), "EUR")})


async def city_card(request, slug):
    """A city's card: the city from the database, today's rates from the bank (off the loop)."""
    city = await City.objects.filter(slug=slug).afirst()
    if city is None:
        return JsonResponse({"error": f"no city {slug!r}"}, status=404)
    rates = await sync_to_async(load_exchange_rates)()
    return JsonResponse({"city": city.name, "country": city.country, "rates": rates})


# The forecast service's budget, in seconds. Tests make it small instead of waiting.
FORECAST_BUDGET = 1.0


async def forecast_service(slug):
    """An upstream forecast service (async). Tests replace it with one that never answers."""
    await asyncio.sleep(0.05)
    return {"city": slug, "sky": "clear"}


async def forecast(request, slug):
    try:
        async with asyncio.timeout(FORECAST_BUDGET):
            data = await forecast_service(slug)
    except TimeoutError:
        return JsonResponse({"city": slug, "error": "forecast timed out"}, status=504)
    return JsonResponse(data)


class PaymentDeclined(Exception):
    """The card was declined."""


# Every payment the provider saw, as (card, start, end) on the time.perf_counter() clock.
PAYMENTS = []
PAYMENT_SECONDS = 0.15


async def pay(card="ok"):
    """Charge a card at the (pretend) payment provider: async, about 0.15 s.

    The card "declined" raises PaymentDeclined after the same wait.
    """
    start = time.perf_counter()
    try:
        await asyncio.sleep(PAYMENT_SECONDS)
    finally:
        PAYMENTS.append((card, start, time.perf_counter()))
    if card == "declined":
        raise PaymentDeclined(card)
    return {"card": card, "charged": True}
