"""One write per answer: a response's status line and headers leave with its body.

uvicorn writes an answer in two calls, the head when the app starts the response
and the body when it sends it: two system calls and two TCP segments per answer,
and the client woken twice. `CoalescingTransport` holds the head of a response
until the next write, which then carries both. Whatever the next write is, and
whether or not one comes in the same turn of the event loop, nothing is held
past that turn: a streamed answer, or a `100 Continue` the client waits for,
goes out as it would have.
"""

from __future__ import annotations

import asyncio
from typing import Any


class CoalescingTransport(asyncio.Transport):
    """`transport`, but the write after `hold_next()` is held until the one after it."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.transport = transport
        self.loop = loop
        self.holding = False  # the next write is a response's head: hold it
        self.held: bytes | None = None

    def hold_next(self) -> None:
        """The next write starts a response (a request has just come in)."""
        self.holding = True

    def write(self, data: bytes | bytearray | memoryview[int]) -> None:
        if self.held is not None:
            self.transport.write(self.held + data)
            self.held = None
        elif self.holding:
            self.holding = False
            self.held = bytes(data)
            self.loop.call_soon(self.release)
        else:
            self.transport.write(data)

    def release(self) -> None:
        """Writes what is held: called at the end of the turn that held it, and on close."""
        if self.held is not None:
            held, self.held = self.held, None
            self.transport.write(held)

    def close(self) -> None:
        self.release()
        self.transport.close()

    def abort(self) -> None:
        self.held = None
        self.transport.abort()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.transport.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.transport.get_protocol()

    def pause_reading(self) -> None:
        self.transport.pause_reading()

    def resume_reading(self) -> None:
        self.transport.resume_reading()

    def is_reading(self) -> bool:
        return self.transport.is_reading()

    def get_write_buffer_size(self) -> int:
        return self.transport.get_write_buffer_size() + len(self.held or b"")

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self.transport.set_write_buffer_limits(high, low)

    def can_write_eof(self) -> bool:
        return self.transport.can_write_eof()

    def write_eof(self) -> None:
        self.release()
        self.transport.write_eof()
