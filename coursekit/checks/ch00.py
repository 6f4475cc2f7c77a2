"""Chapter 00: a warm-up exercise that shows how checks, hints and progress work."""
import inspect

from ..exercises import Chapter

chapter = Chapter("00", "Welcome")


@chapter.exercise(
    "city-count", "Count the sandbox's cities with the async ORM",
    needs=["city_count"],
    hints=[
        "QuerySets have async twins of their methods, named with an `a` in front.",
        "`await City.objects.acount()` counts rows without blocking the event loop.",
    ],
)
async def check_city_count(ctx, city_count):
    from trips.models import City

    ctx.expect(inspect.iscoroutinefunction(city_count), expected="`city_count` defined with `async def`",
               got=f"{type(city_count).__name__} {city_count!r}"[:80],
               nudge="Define it with `async def city_count():` so that it can `await` the ORM.")
    got = await ctx.call(city_count)
    want = await City.objects.acount()
    ctx.expect(isinstance(got, int) and not isinstance(got, bool),
               expected="a whole number (an int)", got=f"{got!r} ({type(got).__name__})",
               nudge="Return the count itself, not a QuerySet or a string.")
    ctx.expect(got == want, expected=f"{want} cities (what the database holds)", got=str(got),
               nudge="Count every City: no filter needed.")
    return "That is the async ORM: `await` in front, `a` in the name."
