"""A throwaway ``redis-server`` for tests: loopback only, a free port, no persistence, its own folder.

``./dev.sh test`` installs Debian's ``redis-server`` when it is missing. Tests stop the server
by its process id (``RedisServer.stop``), never by name.
"""
from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser_support import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


@dataclass
class RedisServer:
    process: subprocess.Popen
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        stop_process(self.process)


def start_redis(folder: Path, timeout_s: float = 20.0) -> RedisServer:
    """Start ``redis-server`` on a free 127.0.0.1 port, working in ``folder``; wait until it answers."""
    import redis

    if not Path(REDIS_SERVER).exists():
        pytest.fail("redis-server is not installed: ./dev.sh test installs it (apt-get install redis-server)", pytrace=False)
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=(folder / "redis.log").open("w"), stderr=subprocess.STDOUT,
    )
    server = RedisServer(process, port)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            redis.Redis.from_url(server.url, socket_connect_timeout=1).ping()
            return server
        except redis.RedisError:
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                pytest.fail(f"redis-server did not answer on port {port}: {(folder / 'redis.log').read_text()[-2000:]}", pytrace=False)
            time.sleep(0.1)


def stop_process(process: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGTERM ``process`` (by its id), then SIGKILL if it has not ended within ``grace_s``."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace_s)
