"""The bodies the bridge answers with, in the platform's own `{code, message}` style."""

from __future__ import annotations

import msgspec
from starlette.responses import Response
from starlette.types import Send

from bridge.errors import CallbackError


class ItemFault(msgspec.Struct, frozen=True):
    path: str
    message: str


class Answer(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel"):
    code: int
    message: str
    accepted: int | None = None
    dead_lettered: int | None = None
    path: str | None = None
    errors: list[ItemFault] | None = None


_encode = msgspec.json.Encoder().encode


def answer(status: int, body: Answer) -> Response:
    """For Starlette's routes."""
    return Response(_encode(body), status, media_type="application/json")


async def send_answer(
    send: Send, status: int, body: Answer, retry_after: int | None = None
) -> None:
    """For the pure ASGI parts: the callback routes and the middleware."""
    payload = _encode(body)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(payload)),
    ]
    if retry_after is not None:
        headers.append((b"retry-after", b"%d" % retry_after))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def send_error(send: Send, error: CallbackError, retry_after: int) -> None:
    """4xx as they are; 503 with `Retry-After`, so the sender comes back."""
    body = Answer(code=error.status, message=error.message, path=error.path)
    await send_answer(send, error.status, body, retry_after if error.status == 503 else None)
