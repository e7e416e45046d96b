"""An answer's head leaves with its body; nothing is held past the turn of the loop."""

from __future__ import annotations

import asyncio
from typing import Any

from bridge.http.coalescing import CoalescingTransport


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def coalescing() -> tuple[CoalescingTransport, RecordingTransport]:
    recording = RecordingTransport()
    return CoalescingTransport(recording, asyncio.get_running_loop()), recording


async def test_the_head_of_an_answer_leaves_with_its_body() -> None:
    transport, recording = coalescing()

    transport.hold_next()
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    assert recording.writes == []
    transport.write(b"{}")

    assert recording.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]


async def test_a_head_with_no_write_after_it_leaves_at_the_end_of_the_turn() -> None:
    """A streamed answer's head, or the `100 Continue` a client waits for."""
    transport, recording = coalescing()

    transport.hold_next()
    transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    await asyncio.sleep(0)  # one turn of the loop

    assert recording.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")  # not held: only the write after hold_next is
    assert recording.writes[-1] == b"HTTP/1.1 200 OK\r\n\r\n"


async def test_only_the_write_after_a_request_is_held() -> None:
    transport, recording = coalescing()

    transport.write(b"a")
    transport.hold_next()
    transport.write(b"b")
    transport.write(b"c")
    transport.write(b"d")

    assert recording.writes == [b"a", b"bc", b"d"]


async def test_closing_writes_what_is_held_first() -> None:
    transport, recording = coalescing()

    transport.hold_next()
    transport.write(b"HTTP/1.1 408 Request Timeout\r\n\r\n")
    transport.close()

    assert recording.writes == [b"HTTP/1.1 408 Request Timeout\r\n\r\n"]
    assert recording.closed and transport.is_closing()
    await asyncio.sleep(0)
    assert len(recording.writes) == 1  # the end of the turn finds nothing left
