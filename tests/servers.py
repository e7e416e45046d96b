"""Run `bridge serve` as its own process, as it runs in production."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from bridge.kinds import KINDS
from bridge.settings import PREFIX
from tests.kafka_tools import unique_topic
from tests.ports import free_port
from tests.running import Started, wait_until_ok

REPO = Path(__file__).resolve().parents[1]


def fresh_settings(bootstrap: str, **extra: str) -> dict[str, str]:
    """Settings for a bridge on `bootstrap` with topics of its own, created at start-up."""
    return {
        "kafka_bootstrap_servers": bootstrap,
        **{kind.topic_setting: unique_topic(kind.name) for kind in KINDS},
        "topic_dlq": unique_topic("dlq"),
        "create_topics": "true",
        **extra,
    }


def bridge_env(settings: Mapping[str, str], port: int | None = None) -> dict[str, str]:
    """This process's environment without its own `BRIDGE_*` variables, with `settings`
    (named as Settings names them) as `BRIDGE_*` ones, and, given a `port`, the address
    127.0.0.1:`port` to serve on."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(PREFIX)}
    if port is not None:
        env |= {f"{PREFIX}HOST": "127.0.0.1", f"{PREFIX}PORT": str(port)}
    return env | {f"{PREFIX}{name.upper()}": value for name, value in settings.items()}


class BridgeProcess(Started):
    """`bridge serve` in a process of its own, on a free port (or a given one: `at`)."""

    def __init__(self, log_path: Path, **settings: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = bridge_env(settings, self.port)
        self.process: subprocess.Popen[bytes] | None = None

    @classmethod
    def at(cls, port: int, log_path: Path, **settings: str) -> BridgeProcess:
        """A bridge on a given port: a restarted pod keeps its address."""
        bridge = cls(log_path, **settings)
        bridge.port, bridge.url = port, f"http://127.0.0.1:{port}"
        bridge.env = bridge_env(settings, port)
        return bridge

    def start(self, *, ready: bool = True, timeout: float = 60.0) -> BridgeProcess:
        """Start, then wait until it serves (and, with `ready`, until it is ready)."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bridge", "serve"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        path = "/readyz" if ready else "/healthz"
        try:
            wait_until_ok(
                self.url + path, self.process, name="bridge", log=self.log, timeout=timeout
            )
        except BaseException:
            self.kill()
            raise
        return self

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def wait(self, timeout: float = 60.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM, as Kubernetes stops a pod, and wait for the exit code (None if it never
        started). Once it has exited, only its exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def ready_status(self) -> int:
        """The status /readyz answers now; 0 while nothing listens."""
        try:
            return httpx.get(self.url + "/readyz", timeout=5).status_code
        except httpx.TransportError:
            return 0

    async def wait_ready(self, status: int, within: float) -> float:
        """Seconds until /readyz answers `status`; TimeoutError after `within`."""
        started = time.monotonic()
        async with asyncio.timeout(within):
            # Another process, asked over HTTP: there is no event to await.
            while await asyncio.to_thread(self.ready_status) != status:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        return time.monotonic() - started

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`bridge ARGS...` with this bridge's settings, run from the repository's root."""
        return subprocess.run(
            [sys.executable, "-m", "bridge", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=REPO,
        )

    def metric(self, name: str) -> float:
        """One sample of /metrics, by its name with labels, e.g. `x_total{route="/r"}`."""
        for line in httpx.get(self.url + "/metrics", timeout=5).text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise AssertionError(f"no {name} in /metrics")
