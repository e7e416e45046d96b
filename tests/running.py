"""What the test helpers that start something share: `with` starts it and always stops it."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx
import psutil


class Started:
    """`with helper:` calls `start()`, and `stop()` at the end, also when `start()` failed
    half-way: a helper's `stop()` must cope with a partial start."""

    def start(self) -> object:
        raise NotImplementedError

    def stop(self) -> object:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class FakeHandler(BaseHTTPRequestHandler):
    """The request handler of a stand-in service: reads a body and answers in one call each,
    and logs nothing per request."""

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def reply(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass


class HttpFake(Started):
    """A stand-in HTTP service on 127.0.0.1 (a free port), served from a daemon thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self.server.shutdown()
        self.server.server_close()


def wait_until_ok(
    url: str,
    process: subprocess.Popen[bytes],
    *,
    name: str,
    log: Callable[[], str],
    timeout: float = 60.0,
) -> None:
    """Poll `url` until it answers 200; RuntimeError as soon as `process` (called `name`)
    exits, TimeoutError after `timeout` seconds, each with `log()`."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{log()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name}: {url} did not answer 200 within {timeout} s:\n{log()}")
        time.sleep(0.05)  # another process, asked over HTTP: nothing to await


def run_script(
    script: Path, *arguments: str, env: dict[str, str], who: object, timeout: float = 300
) -> str:
    """A project script under bash, its output returned; one RuntimeError naming it if it fails."""
    bash = shutil.which("bash")
    if bash is None:
        raise RuntimeError("bash not found")
    # A fixed script and argument list, no shell involved.
    result = subprocess.run(  # noqa: S603
        [bash, str(script), *arguments],
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        raise RuntimeError(
            f"{script.name} {' '.join(arguments)} failed (exit {result.returncode}) "
            f"for {who!r}:\n{output}"
        )
    return output


def rss_mib(pid: int) -> float:
    """The resident memory of process `pid`, in MiB."""
    return float(psutil.Process(pid).memory_info().rss) / 2**20


def alive(pid: int) -> bool:
    """True until ``pid`` has exited.

    A zombie whose threads have all ended counts as gone (its parent may reap
    it late); a zombie main thread whose other threads still run (and may
    still hold a broker's ports) counts as alive.
    """
    try:
        process = psutil.Process(pid)
        return not (process.status() == psutil.STATUS_ZOMBIE and process.num_threads() <= 1)
    except psutil.NoSuchProcess:
        return False
    except psutil.ZombieProcess:
        return False


# How long a process may take to be gone after SIGKILL.
GONE_TIMEOUT = 30.0


def kill_and_wait(pid: int, who: str, timeout: float = GONE_TIMEOUT) -> None:
    """SIGKILL `pid` and return once it is gone; RuntimeError "`who` survived SIGKILL" if it
    is still there after `timeout` seconds."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{who} survived SIGKILL")
        time.sleep(0.05)  # another process: nothing to await


async def until(condition: Callable[[], bool], within: float = 30) -> None:
    """Poll another process's state until `condition` holds."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - nothing to await in another process
            await asyncio.sleep(0.05)
