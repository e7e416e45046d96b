"""HTTP/1.1 written by hand over asyncio streams.

HTTP clients normalise what they send (dot segments, encoded slashes, header
case, framing); these helpers put the exact bytes on the wire, so the tests
see what the real server does with them.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def address_of(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    return parts.hostname, parts.port


def request(
    method: str,
    target: str | bytes,
    body: bytes = b"",
    headers: list[tuple[str, str]] | None = None,
    *,
    content_type: str | None = "application/json",
    framing: str = "length",
) -> bytes:
    """A request as bytes; `framing` is `length` (Content-Length), `chunked` or `none`."""
    raw_target = target if isinstance(target, bytes) else target.encode()
    lines = [method.encode() + b" " + raw_target + b" HTTP/1.1", b"Host: bridge"]
    if content_type is not None:
        lines.append(b"Content-Type: " + content_type.encode("latin-1"))
    lines += [f"{name}: {value}".encode("latin-1") for name, value in headers or []]
    if framing == "length":
        lines.append(b"Content-Length: " + str(len(body)).encode())
        payload = body
    elif framing == "chunked":
        lines.append(b"Transfer-Encoding: chunked")
        payload = chunked(body)
    else:
        payload = body
    return b"\r\n".join(lines) + b"\r\n\r\n" + payload


def chunked(body: bytes, size: int = 65536) -> bytes:
    parts = [
        f"{len(body[i : i + size]):x}\r\n".encode() + body[i : i + size] + b"\r\n"
        for i in range(0, len(body), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


async def read_response(reader: asyncio.StreamReader, *, with_body: bool = True) -> RawResponse:
    """One final response (1xx skipped), framed by Content-Length as the bridge sends it.

    An answer to HEAD has a Content-Length but no body: `with_body=False`.
    """
    while (response := await read_one(reader, with_body=with_body)).status < 200:
        pass
    return response


async def read_one(reader: asyncio.StreamReader, *, with_body: bool = True) -> RawResponse:
    """The next response, interim (1xx) or final."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0")) if with_body else 0
    return RawResponse(status, headers, await reader.readexactly(length))


async def exchange(
    url: str, raw: bytes, *, within: float = 30.0, source: str | None = None
) -> RawResponse:
    """Send `raw` on a new connection (from the address `source`) and read one response."""
    with_body = not raw.startswith(b"HEAD ")
    host, port = address_of(url)
    async with asyncio.timeout(within):
        local = None if source is None else (source, 0)
        reader, writer = await asyncio.open_connection(host, port, local_addr=local)
        try:
            writer.write(raw)
            await writer.drain()
            return await read_response(reader, with_body=with_body)
        finally:
            writer.close()


async def until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes (or resets) the connection."""
    received = b""
    try:
        while chunk := await reader.read(65536):
            received += chunk
    except ConnectionError:  # reset, or a broken pipe seen by the reader
        pass
    return received
