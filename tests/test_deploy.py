"""coursekit.servers.deploy and .valkey (chapters 10, 11): what they start works, and nothing is left."""
import asyncio
from pathlib import Path

import psutil

from coursekit import cleanup
from coursekit.servers import deploy
from coursekit.servers.valkey import start_valkey


def test_valkey_serves_channels_redis_on_127_0_0_1_and_leaves_nothing_behind():
    async def scenario():
        from channels_redis.core import RedisChannelLayer

        valkey = await start_valkey()
        try:
            layer = RedisChannelLayer(hosts=[valkey.redis_url])
            channel = await layer.new_channel()
            await layer.send(channel, {"type": "hello", "n": 1})
            received = await asyncio.wait_for(layer.receive(channel), 10)
            await layer.flush()
            await layer.close_pools()
            seen = {"url": valkey.redis_url, "pong": await valkey.ping(), "received": received,
                    "listening": [c.laddr.ip for c in psutil.Process(valkey.process.pid).net_connections("tcp")
                                  if c.status == "LISTEN"],
                    "registered": list(cleanup.pending())}
            pid, folder = valkey.process.pid, Path(valkey._dir)
        finally:
            await valkey.stop()
        return seen, pid, folder, await valkey.ping(timeout=1)

    seen, pid, folder, pong_after = asyncio.run(scenario())
    assert seen["url"].startswith("redis://127.0.0.1:") and seen["pong"] is True
    assert seen["received"] == {"type": "hello", "n": 1}
    assert seen["listening"] and set(seen["listening"]) == {"127.0.0.1"}
    assert any(name.startswith("valkey") for name in seen["registered"])
    assert pong_after is False and not folder.exists() and not psutil.pid_exists(pid)
    assert not any(name.startswith("valkey") for name in cleanup.pending())


def test_a_procfile_is_written_as_a_platform_reads_it():
    lines = [deploy.Process("web", deploy.SERVERS["uvicorn"]),
             deploy.Process("worker", ["{python}", "manage.py", "db_worker"], probe=None, ready_line="Starting worker")]
    assert deploy.procfile(lines) == (
        "web: python -m uvicorn --host 127.0.0.1 --port $PORT tripboard.asgi:application\n"
        "worker: python manage.py db_worker\n")


def test_every_server_command_serves_the_asgi_application_on_a_free_local_port():
    for name, command in deploy.SERVERS.items():
        assert command[:2] == ["{python}", "-m"], name
        assert command[-1] == deploy.ASGI_APP and any("{port}" in part for part in command), name
        assert any("127.0.0.1" in part for part in command), name
