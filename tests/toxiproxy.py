"""Toxiproxy for the tests: the pinned `toxiproxy-server` and a typed client of its HTTP API.

`make tools` builds the server into .tools/bin. :class:`ToxiproxyServer`
runs one on a port of its own; :class:`Toxiproxy` creates its proxies (those
of the local cluster come from the `toxiproxy.json` that `cluster.sh up`
writes) and adds and removes toxics, the faults a proxy applies to the bytes
going through it. Each toxic acts on one direction: `upstream` is what the
client sends, `downstream` what the server answers.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Literal

import httpx
import msgspec

from tests.ports import free_port
from tests.running import Started, wait_until_ok

__all__ = [
    "TOXIPROXY_SERVER",
    "Proxy",
    "Toxic",
    "Toxiproxy",
    "ToxiproxyError",
    "ToxiproxyServer",
    "bandwidth",
    "black_hole",
    "latency",
    "limit_data",
    "reset_peer",
]

REPO = Path(__file__).resolve().parent.parent
TOXIPROXY_SERVER = REPO / ".tools" / "bin" / "toxiproxy-server"
_START_TIMEOUT_S = 30.0

Stream = Literal["upstream", "downstream"]


class Toxic(msgspec.Struct, kw_only=True):
    type: str
    attributes: dict[str, int]
    stream: Stream = "downstream"
    name: str = ""  # Toxiproxy names it <type>_<stream> when empty
    toxicity: float = 1.0  # the share of connections it applies to


class Proxy(msgspec.Struct, kw_only=True):
    name: str
    listen: str
    upstream: str
    enabled: bool = True
    toxics: list[Toxic] = msgspec.field(default_factory=list)


class _Error(msgspec.Struct):
    error: str
    status: int


class _LogLine(msgspec.Struct):
    message: str = ""
    name: str = ""  # the proxy's


class ToxiproxyError(RuntimeError):
    """Toxiproxy refused a request; the message is its method, path, status and reason."""


# -- toxics -------------------------------------------------------------------


def latency(milliseconds: int, *, jitter: int = 0, stream: Stream = "downstream") -> Toxic:
    """Every chunk of data delayed by `milliseconds` (± `jitter`)."""
    attributes = {"latency": milliseconds, "jitter": jitter}
    return Toxic(type="latency", stream=stream, attributes=attributes)


def black_hole(stream: Stream = "upstream") -> Toxic:
    """Nothing gets through and connections stay open: the `timeout` toxic with timeout 0.

    When it is removed, Toxiproxy closes the connections it held.
    """
    return Toxic(type="timeout", stream=stream, attributes={"timeout": 0})


def limit_data(size: int, *, stream: Stream = "downstream") -> Toxic:
    """Each connection closed once `size` bytes went through it (counted from the toxic on)."""
    return Toxic(type="limit_data", stream=stream, attributes={"bytes": size})


def reset_peer(after_milliseconds: int = 0, *, stream: Stream = "downstream") -> Toxic:
    """Each connection reset (TCP RST) at its first data from the toxic on, that data dropped.

    Downstream, an open connection loses the answer to a request the server carried out;
    a new one loses the server's first bytes (its TLS handshake).
    """
    return Toxic(type="reset_peer", stream=stream, attributes={"timeout": after_milliseconds})


def bandwidth(kilobytes_per_second: int, *, stream: Stream = "downstream") -> Toxic:
    """At most this many KB (1,000 bytes) a second per connection."""
    return Toxic(type="bandwidth", stream=stream, attributes={"rate": kilobytes_per_second})


# -- the API ------------------------------------------------------------------


class Toxiproxy:
    """The HTTP API of one toxiproxy-server (every call is a short request to 127.0.0.1)."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def _call(self, method: str, path: str, body: object = None) -> bytes:
        content = None if body is None else msgspec.json.encode(body)
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as client:
            response = await client.request(method, path, content=content)
        if response.is_error:
            try:
                reason = msgspec.json.decode(response.content, type=_Error).error
            except msgspec.DecodeError:
                reason = response.text
            raise ToxiproxyError(f"{method} {path}: {response.status_code} {reason}")
        return response.content

    async def version(self) -> str:
        return (await self._call("GET", "/version")).decode()

    async def populate(self, proxies: list[Proxy]) -> list[Proxy]:
        """Create these proxies (or replace those of the same name that differ)."""
        answer = await self._call("POST", "/populate", proxies)
        return msgspec.json.decode(answer, type=dict[str, list[Proxy]])["proxies"]

    async def proxies(self) -> dict[str, Proxy]:
        return msgspec.json.decode(await self._call("GET", "/proxies"), type=dict[str, Proxy])

    async def add(self, proxy: str, toxic: Toxic) -> Toxic:
        """Apply a toxic to a proxy's connections, open ones included; returns it as named."""
        answer = await self._call("POST", f"/proxies/{proxy}/toxics", toxic)
        return msgspec.json.decode(answer, type=Toxic)

    async def remove(self, proxy: str, toxic: Toxic) -> None:
        await self._call("DELETE", f"/proxies/{proxy}/toxics/{toxic.name}")

    async def enable(self, proxy: str, enabled: bool) -> None:
        """A disabled proxy closes its connections and refuses new ones."""
        await self._call("POST", f"/proxies/{proxy}", {"enabled": enabled})

    async def reset(self) -> None:
        """Every proxy enabled, every toxic removed."""
        await self._call("POST", "/reset")


def load_proxies(config: Path) -> list[Proxy]:
    """A Toxiproxy `-config` file (such as the cluster's toxiproxy.json)."""
    return msgspec.json.decode(config.read_bytes(), type=list[Proxy])


# -- the server ---------------------------------------------------------------


class ToxiproxyServer(Started):
    """`toxiproxy-server` on 127.0.0.1, on a port below the ephemeral range."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.api = Toxiproxy(self.url)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> ToxiproxyServer:
        if not TOXIPROXY_SERVER.is_file():
            raise FileNotFoundError(
                f"toxiproxy-server is not installed at {TOXIPROXY_SERVER.relative_to(REPO)}: "
                "run `make tools` (builds the pinned version with `go install`)"
            )
        command = [str(TOXIPROXY_SERVER), "-host", "127.0.0.1", "-port", str(self.port)]
        # Its default level logs every chunk it forwards; info logs every connection.
        env = {**os.environ, "LOG_LEVEL": "info"}
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        wait_until_ok(
            self.url + "/version",
            self._process,
            name="toxiproxy-server",
            log=lambda: self.log_path.read_text(errors="replace"),
            timeout=_START_TIMEOUT_S,
        )
        return self

    def connections(self, proxy: str) -> int:
        """Connections the proxy has accepted so far, as its log tells."""
        accepted = 0
        for line in self.log_path.read_bytes().splitlines():
            if line.startswith(b"{"):
                entry = msgspec.json.decode(line, type=_LogLine)
                accepted += entry.message == "Accepted client" and entry.name == proxy
        return accepted

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
