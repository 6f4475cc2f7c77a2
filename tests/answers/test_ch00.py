"""Wrong and right answers for chapter 00's warm-up exercise."""
import pytest

from tests.answers.harness import PASS, Case, verdict_problem

CHAPTER = "00"
PRELUDE = ["import coursekit\ncoursekit.setup(quiet=True)\nfrom trips.models import City\n"
           "from asgiref.sync import sync_to_async\nimport time, asyncio"]

CASES = [
    Case("city-count", "ck.E004", """
async def city_count():
    return City.objects.count()
""", "the sync ORM inside async code"),
    Case("city-count", "ck.W005", """
def city_count():
    return City.objects.count()
""", "a plain def"),
    Case("city-count", "ck.W001", """
async def city_count():
    return City.objects.acount()
""", "acount() without await"),
    Case("city-count", "ch00.W002", """
async def city_count():
    return 8
""", "the seeded number, hard-coded"),
    Case("city-count", "ch00.W001", """
async def city_count():
    return [c async for c in City.objects.all()]
""", "the cities instead of their number"),
    Case("city-count", "ch00.W002", """
async def city_count():
    return await City.objects.filter(country="Japan").acount()
""", "a filter nobody asked for"),
    Case("city-count", "ck.W003", """
async def city_count():
    time.sleep(0.3)          # 'wait for the database'
    return await City.objects.acount()
""", "a blocking sleep before the query"),
    Case("city-count", "ck.E001", """
async def city_count():
    raise NotImplementedError()
""", "the unsolved stub"),
    Case("city-count", "ck.E002", "", "never defined"),
    Case("city-count", PASS, """
async def city_count():
    return len([city async for city in City.objects.all()])
""", "counting with async for"),
    Case("city-count", PASS, """
async def city_count():
    return await sync_to_async(City.objects.count)()
""", "the sync count through sync_to_async"),
    Case("city-count", PASS, """
async def city_count():
    await asyncio.sleep(0.2)
    return await City.objects.all().acount()
""", "awaits something slow first"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_answer(runner, case):
    problem = verdict_problem(case, runner.judge(case))
    assert problem is None, problem
