"""The bodies the bridge answers with, in the platform's own `{code, message}` style."""

from __future__ import annotations

import msgspec
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

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


def answer(status: int, body: Answer, headers: dict[str, str] | None = None) -> Response:
    return Response(_encode(body), status, headers, media_type="application/json")


def error_headers(error: CallbackError, retry_after: int) -> dict[str, str] | None:
    return {"Retry-After": str(retry_after)} if error.status == 503 else None


def error_answer(error: CallbackError, retry_after: int) -> Response:
    body = Answer(code=error.status, message=error.message, path=error.path)
    return answer(error.status, body, error_headers(error, retry_after))


async def send_error(
    scope: Scope, receive: Receive, send: Send, error: CallbackError, retry_after: int
) -> None:
    """The same answer as `error_answer`, from pure ASGI middleware."""
    await error_answer(error, retry_after)(scope, receive, send)
