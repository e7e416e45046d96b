"""Reading a request body within a size and a time limit, without buffering the excess."""

from __future__ import annotations

import asyncio

from starlette.types import Message, Receive, Scope

from bridge.deadlines import Deadlines
from bridge.errors import BodyTooLarge, SlowBody


async def read_body(scope: Scope, receive: Receive, *, limit: int, deadlines: Deadlines) -> bytes:
    """The whole body; `BodyTooLarge` as soon as it is known to exceed `limit` bytes.

    `SlowBody` when it takes longer than the deadlines allow.
    """
    declared = _content_length(scope)
    if declared is not None and declared > limit:
        raise BodyTooLarge(f"Body of {declared} bytes exceeds the limit of {limit} bytes")
    task = asyncio.current_task()
    assert task is not None  # noqa: S101 - always called from a request's task
    watch = deadlines.arm(task.cancel)
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise SlowBody("Client disconnected before sending the whole body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(f"Body exceeds the limit of {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
    except asyncio.CancelledError:
        if not watch.fired:
            raise
        task.uncancel()
        raise SlowBody(f"Body not received within {deadlines.seconds:g} s") from None
    finally:
        watch.armed = False


def replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the already-read body to the next application."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None
