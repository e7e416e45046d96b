"""The container engine that deploy/image.sh finds (podman or docker), for the container tests."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import httpx

import bridge

__all__ = ["BRIDGE_IMAGE", "Engine", "unique_name", "wait_for_status"]

REPO = Path(__file__).resolve().parents[1]
BRIDGE_IMAGE = f"video-callback-bridge:{bridge.__version__}"


def unique_name(purpose: str) -> str:
    """A container or project name of this run alone: other runs share the engine."""
    return f"vcb-test-{purpose}-{uuid.uuid4().hex[:8]}"


class Engine:
    def __init__(self) -> None:
        found = subprocess.run(
            ["bash", str(REPO / "deploy" / "image.sh"), "engine"],
            capture_output=True,
            text=True,
            check=False,
        )
        if found.returncode != 0:
            raise RuntimeError(found.stderr.strip())
        self.name = found.stdout.strip()

    def run(self, *args: str, timeout: float = 120.0, check: bool = True) -> str:
        """The engine's standard output; with `check`, its failure raises with what it said."""
        done = subprocess.run(
            [self.name, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and done.returncode != 0:
            raise RuntimeError(
                f"{self.name} {' '.join(args)} failed ({done.returncode}):\n"
                f"{done.stdout}{done.stderr}"
            )
        return done.stdout

    def succeeds(self, *args: str, timeout: float = 120.0) -> bool:
        done = subprocess.run([self.name, *args], capture_output=True, timeout=timeout, check=False)
        return done.returncode == 0

    def inspect(self, container: str, template: str) -> str:
        return self.run("inspect", "--format", template, container).strip()

    def healthy(self, container: str) -> bool:
        """One run of the image's HEALTHCHECK: podman runs them only when asked (no systemd)."""
        if self.name == "podman":
            return self.succeeds("healthcheck", "run", container)
        return self.inspect(container, "{{.State.Health.Status}}") == "healthy"


def wait_for_status(url: str, status: int, timeout: float, why: str) -> httpx.Response:
    """Poll `url` until it answers `status`; `why` says what was awaited when it does not."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == status:
                return response
            last = f"{response.status_code} {response.text}"
        except httpx.TransportError as error:
            last = repr(error)
        time.sleep(0.2)
    raise TimeoutError(f"{why}: {url} did not answer {status} within {timeout} s (last: {last})")
