"""Chapter 00: a warm-up exercise that shows how checks, hints and progress work."""
import contextlib

from asgiref.sync import sync_to_async

from ..exercises import Chapter, Fail
from .common import require_async

chapter = Chapter("00", "Welcome")

NOT_A_NUMBER = chapter.nudge("W001", "not a whole number", "Return the count itself (an int), not a QuerySet, a "
                             "list or a string.")
WRONG_COUNT = chapter.nudge("W002", "a different count", "Count every City in the database, as it is when the "
                            "function runs: no filter, and no number written into the code.")


@contextlib.asynccontextmanager
async def _one_more_city():
    """A city that exists only while the check runs: a hard-coded count cannot match both counts."""
    from trips.models import City

    def add():
        City.objects.filter(slug="ck00-atlantis").delete()
        return City.objects.create(name="Atlantis", slug="ck00-atlantis", country="Nowhere")

    city = await sync_to_async(add)()
    try:
        yield
    finally:
        await sync_to_async(City.objects.filter(pk=city.pk).delete)()


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

    require_async(city_count, "city_count")
    for situation in ("as seeded", "with one more city"):
        if situation == "with one more city":
            async with _one_more_city():
                got, want = await ctx.call(city_count, allow_block=0.05), await City.objects.acount()
        else:
            got, want = await ctx.call(city_count, allow_block=0.05), await City.objects.acount()
        if not isinstance(got, int) or isinstance(got, bool):
            raise Fail("a whole number (an int)", f"{got!r} ({type(got).__name__})", NOT_A_NUMBER)
        ctx.expect(got == want, expected=f"{want} cities {situation} (what the database holds)", got=str(got),
                   nudge=WRONG_COUNT)
    return "That is the async ORM: `await` in front, `a` in the name."
