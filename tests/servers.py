"""Run `bridge serve` as its own process, as it runs in production."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from bridge.kinds import KINDS
from tests.broker import free_port
from tests.kafka_tools import unique_topic


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
