"""The servers under test, each its own process, and the topic counts that check them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.ports import free_port
from tests.running import Started, wait_until_ok
from tests.servers import bridge_env


class Service(Started):
    """A server started as a process of its own, ready once `ready_path` answers 200.

    `{port}` in the command is replaced by the port it is given; `settings` are named as
    the bridge's Settings name them. Started in `cwd`, when given, which `python -m` puts
    first on the module path: a checkout there is what runs.
    """

    def __init__(
        self,
        name: str,
        command: list[str],
        log_path: Path,
        *,
        settings: dict[str, str],
        ready_path: str = "/readyz",
        has_metrics: bool = True,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [part.replace("{port}", str(self.port)) for part in command]
        self.log_path = log_path
        self.ready_path = ready_path
        self.has_metrics = has_metrics
        self.cwd = cwd
        self.env = bridge_env(settings, self.port)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60.0) -> Service:
        with self.log_path.open("ab") as log:
            # Its own session, so that whatever it leaves behind can be found and ended.
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.cwd,
            )
        url = self.url + self.ready_path
        wait_until_ok(url, self.process, name=self.name, log=self.tail, timeout=timeout)
        return self

    def in_flight(self) -> float | None:
        """`bridge_http_requests_in_flight` of the worker this scrape reaches."""
        try:
            text = httpx.get(self.url + "/metrics", timeout=5).text
        except httpx.TransportError:
            return None
        for line in text.splitlines():
            if line.startswith("bridge_http_requests_in_flight "):
                return float(line.split()[1])
        return None

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Until no callback is in flight, on several scrapes (each may reach another worker).

        False when the server does not report the gauge: the caller waits otherwise.
        """
        if not self.has_metrics:
            return False
        deadline = time.monotonic() + timeout
        quiet = scrapes = 0
        seen = False
        while quiet < 8:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} still has callbacks in flight after {timeout} s")
            value = self.in_flight()
            scrapes += 1
            seen = seen or value is not None
            if not seen and scrapes >= 10:
                return False
            quiet = quiet + 1 if value == 0 else 0
            time.sleep(0.02)
        return True

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM, as Kubernetes stops a pod; SIGKILL to the whole session if it hangs."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        try:  # workers orphaned by a parent that died
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def bridge_command() -> list[str]:
    return [sys.executable, "-m", "bridge", "serve"]


def bare_command() -> list[str]:
    return [sys.executable, "-m", "benchmarks.bare_server"]


def ceiling_command() -> list[str]:
    return [sys.executable, "-m", "benchmarks.ceiling_server"]


def librdkafka_command() -> list[str]:
    return [sys.executable, "-m", "benchmarks.librdkafka_server"]


def naive_command() -> list[str]:
    # uvicorn's defaults otherwise, access log included, as `uvicorn app:app` runs.
    app = "benchmarks.naive_bridge:app"
    return [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", "{port}"]


async def _count(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            while not (found := consumer.partitions_for_topic(topic)):
                await consumer._client.force_metadata_update()  # as tests/kafka_tools.py does
                await asyncio.sleep(0.1)
        partitions = [TopicPartition(topic, p) for p in sorted(found)]
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        count: int = sum(ends.values()) - sum(starts.values())
        return count
    finally:
        await consumer.stop()


def count_records(bootstrap: str, topic: str) -> int:
    """Records in `topic` now, from its offsets: exact, as the producer is idempotent."""
    return asyncio.run(_count(bootstrap, topic))


def settled_count(bootstrap: str, topic: str, timeout: float = 30.0) -> int:
    """The topic's count once it stays the same for a second."""
    deadline = time.monotonic() + timeout
    last = count_records(bootstrap, topic)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = count_records(bootstrap, topic)
        if now == last:
            return now
        last = now
    raise TimeoutError(f"{topic} still growing after {timeout} s")
