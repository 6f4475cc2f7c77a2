"""The async ORM views under /orm/ (chapter 05)."""
from django.test import AsyncClient, TestCase

from trips import slowdb
from trips.models import City
from trips.seed import seed


class OrmViewTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        seed()

    async def test_dashboard_lists_trips_with_city_and_bookings(self):
        response = await AsyncClient().get("/orm/dashboard/alice/")
        data = response.json()
        self.assertEqual(data["count"], 3)
        self.assertEqual(data["trips"][0]["city"], "Lisbon")
        self.assertEqual(len(data["trips"][0]["bookings"]), 2)

    def test_dashboard_runs_two_queries(self):
        with self.assertNumQueries(2):   # trips with their city (one JOIN), then all their bookings
            self.client.get("/orm/dashboard/bob/")

    async def test_city_404(self):
        self.assertEqual((await AsyncClient().get("/orm/cities/atlantis/")).status_code, 404)
        self.assertEqual((await AsyncClient().get("/orm/cities/kyoto/")).json(), {"name": "Kyoto", "trips": 1})

    async def test_pagination(self):
        first = (await AsyncClient().get("/orm/trips/")).json()
        last = (await AsyncClient().get("/orm/trips/?page=99")).json()
        self.assertEqual((first["page"], first["num_pages"], first["has_next"]), (1, 3, True))
        self.assertEqual((last["page"], last["has_next"], len(last["trips"])), (3, False, 2))

    async def test_login_then_whoami_with_session(self):
        client = AsyncClient()
        self.assertEqual((await client.post("/orm/login/", {"username": "alice", "password": "nope"})).status_code,
                         401)
        self.assertEqual((await client.post("/orm/login/", {"username": "alice", "password": "wonderland"})).json(),
                         {"ok": True, "user": "alice"})
        await client.get("/orm/whoami/")
        self.assertEqual((await client.get("/orm/whoami/")).json(), {"user": "alice", "visits": 2})

    def test_slow_query_sleeps_in_the_database(self):
        import time

        from django.db import connection

        connection.ensure_connection()
        slowdb.add_to(connection)  # the test database's connection is already open
        started = time.perf_counter()
        self.assertEqual(slowdb.slow_query(0.05).get().slug, "kyoto")
        self.assertGreaterEqual(time.perf_counter() - started, 0.045)

    def test_nap_reports_thread_and_times(self):
        import threading

        from django.db import connection

        connection.ensure_connection()
        slowdb.add_to(connection)
        report = slowdb.nap(0.02)
        self.assertEqual(report["thread"], threading.current_thread().name)
        self.assertGreaterEqual(report["end"] - report["start"], 0.015)
        self.assertEqual(set(City.objects.annotate(t=slowdb.SqlThread()).values_list("t", flat=True)),
                         {threading.current_thread().name})


class SlowViewTests(TestCase):
    """The slow views need the SQL functions on connections the views open themselves."""

    @classmethod
    def setUpTestData(cls):
        seed()

    def setUp(self):
        from django.db import connection

        connection.ensure_connection()
        slowdb.add_to(connection)   # the test's own (already open) connection

    async def test_gather_reports_each_query(self):
        data = (await AsyncClient().get("/orm/slow/gather/?s=0.01&n=2")).json()
        self.assertEqual(len(data["spans"]), 2)
        self.assertEqual(len(data["db"]), 2)
        self.assertTrue(all(d["end"] >= d["start"] for d in data["db"]))

    async def test_slow_reports_db_thread(self):
        data = (await AsyncClient().get("/orm/slow/?s=0.01")).json()
        self.assertIn("thread", data["db"])
        self.assertLessEqual(data["start"], data["db"]["start"])
