"""Run `bridge serve` as its own process, as it runs in production."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from bridge.kinds import KINDS
from tests.kafka_tools import unique_topic
from tests.ports import free_port

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


class BridgeProcess:
    """`bridge serve` in a process of its own, on a free port (or a given one: `at`)."""

    def __init__(self, log_path: Path, **settings: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")},
            "BRIDGE_HOST": "127.0.0.1",
            "BRIDGE_PORT": str(self.port),
            **{f"BRIDGE_{name.upper()}": value for name, value in settings.items()},
        }
        self.process: subprocess.Popen[bytes] | None = None

    @classmethod
    def at(cls, port: int, log_path: Path, **settings: str) -> BridgeProcess:
        """A bridge on a given port: a restarted pod keeps its address."""
        bridge = cls(log_path, **settings)
        bridge.port, bridge.url = port, f"http://127.0.0.1:{port}"
        bridge.env["BRIDGE_PORT"] = str(port)
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
        try:
            self.wait_for("/readyz" if ready else "/healthz", timeout)
        except BaseException:
            self.kill()
            raise
        return self

    def wait_for(self, path: str, timeout: float = 60.0) -> None:
        """Poll `path` until it answers 200; fail early if the process dies."""
        deadline = time.monotonic() + timeout
        while True:
            if self.exit_code() is not None:
                raise RuntimeError(f"bridge exited with {self.exit_code()}:\n{self.log()}")
            try:
                if httpx.get(self.url + path, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path} did not answer 200 within {timeout} s:\n{self.log()}")
            time.sleep(0.05)

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def wait(self, timeout: float = 60.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, as Kubernetes stops a pod, and wait for the exit code."""
        assert self.process is not None
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

    def __enter__(self) -> BridgeProcess:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            self.stop()
