"""GetVideoList: signed calls within a share of the account's rate limit, and paging.

Calls are made one at a time (the rate limit allows no more), with the standard
library's HTTP client in a worker thread. Network errors and the vendor's
rate-limit answer are retried with a doubling backoff; any other answer whose
`code` is not 200 is the vendor's error and ends the run.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import re
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from bridge.settings import Settings, SettingsError
from bridge.vod.signer import signed_headers

log = logging.getLogger("bridge.vod")

PATH = "/vod/videoManage/getVideoList"
PAGE_SIZE = 50
# The API refuses pageIndex * pageSize >= 100000: a window holding more is listed in halves.
LAST_PAGE = (100_000 - 1) // PAGE_SIZE
RATE_PERIOD_SECONDS = 300.0  # the documented limit counts calls per 5 minutes
MAX_BACKOFF_SECONDS = 60.0
CONTENT_TYPE = "application/json; charset=utf-8"
# Undocumented: HTTP 429, or 429 as the body's code, is taken as "too many calls".
RATE_LIMITED = 429
_CREDENTIAL_HINT = "; check BRIDGE_VOD_ACCESS_KEY, BRIDGE_VOD_SECRET_KEY and BRIDGE_VOD_AUTH_SCHEME"
_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


class VendorError(Exception):
    """The API answered with a `code` other than 200; the message is one line."""

    def __init__(self, code: int | str, message: str, status: int) -> None:
        self.code = code
        hint = _CREDENTIAL_HINT if _about_credentials(code, message, status) else ""
        super().__init__(f"the video API refused the call: code {code}: {message}{hint}")


class ApiUnavailable(Exception):
    """The API did not answer usefully within the retries; the message is one line."""


def _about_credentials(code: int | str, message: str, status: int) -> bool:
    words = message.lower()
    return (
        status in (401, 403)
        or str(code) in ("401", "403")
        or any(word in words for word in ("signature", "accesskey", "access key", "auth"))
    )


def api_zone(text: str) -> tzinfo:
    """BRIDGE_VOD_API_TIMEZONE as a zone: `+HH:MM` / `-HH:MM`, or an IANA name."""
    offset = _OFFSET.match(text)
    if offset:
        sign, hours, minutes = offset.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        if delta < timedelta(hours=24):
            return timezone(-delta if sign == "-" else delta)
    else:
        try:
            return ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise SettingsError(
        f"BRIDGE_VOD_API_TIMEZONE={text!r} is invalid: expected an IANA zone name or +HH:MM"
    )


def api_time(moment: datetime, zone: tzinfo) -> str:
    """A moment as the API reads it: "YYYY-MM-DD hh:mm:ss" in its zone."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


class CallWindow:
    """At most `calls` calls in any `period` seconds: a sliding log of the last calls."""

    def __init__(
        self,
        calls: int,
        period: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._calls = calls
        self._period = period
        self._clock = clock
        self._sleep = sleep
        self._recent: collections.deque[float] = collections.deque(maxlen=calls)

    @property
    def spacing(self) -> float:
        """One call's share of the period: the first backoff."""
        return self._period / self._calls

    async def acquire(self) -> None:
        if len(self._recent) == self._calls:
            wait = self._recent[0] + self._period - self._clock()
            if wait > 0:
                await self._sleep(wait)
        self._recent.append(self._clock())


@dataclass
class ApiCounts:
    calls: int = 0
    errors: int = 0
    rate_limited: int = 0
    pages: int = 0
    by_error: collections.Counter[str] = field(default_factory=collections.Counter)


class _Data(msgspec.Struct, rename="camel"):
    video_list_info: list[msgspec.Raw] = []
    video_total: int | str | None = None


class _Answer(msgspec.Struct):
    code: int | str
    message: str = ""
    data: _Data | None = None


_answer = msgspec.json.Decoder(_Answer)


class _Retry(Exception):
    """An attempt that may succeed if made again later."""


@dataclass(frozen=True, slots=True)
class Page:
    items: list[bytes]
    total: int | None  # the matching videos of the window, when the API says


class VideoApi:
    def __init__(self, settings: Settings, counts: ApiCounts | None = None) -> None:
        if not settings.vod_access_key or not settings.vod_secret_key:
            raise SettingsError(
                "BRIDGE_VOD_ACCESS_KEY and BRIDGE_VOD_SECRET_KEY must be set to call the video API"
            )
        self._settings = settings
        self._url = settings.vod_api_url + PATH
        self.zone = api_zone(settings.vod_api_timezone)
        share = max(1, int(settings.vod_api_rate_limit * settings.vod_api_rate_share))
        self.window = CallWindow(share, RATE_PERIOD_SECONDS)
        self.counts = counts if counts is not None else ApiCounts()

    async def page(self, start: datetime, end: datetime, index: int) -> Page:
        """One page of the videos of [start, end], retried as the errors allow."""
        request = {
            "startTime": api_time(start, self.zone),
            "endTime": api_time(end, self.zone),
            "pageIndex": index,
            "pageSize": PAGE_SIZE,
        }
        body = msgspec.json.encode(request)
        backoff = self.window.spacing
        for attempt in range(self._settings.vod_api_retries + 1):
            await self.window.acquire()
            self.counts.calls += 1
            try:
                return self._read(*await asyncio.to_thread(self._post, body))
            except _Retry as reason:
                self.counts.errors += 1
                self.counts.by_error[str(reason).split(":", 1)[0]] += 1
                if attempt == self._settings.vod_api_retries:
                    raise ApiUnavailable(
                        f"the video API gave no answer after {attempt + 1} tries: {reason}"
                    ) from None
                log.warning(
                    "video API call failed; retrying",
                    extra={"reason": str(reason), "retry_in_seconds": round(backoff, 3)},
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
        raise AssertionError("unreachable")

    def _post(self, body: bytes) -> tuple[int, bytes]:
        settings = self._settings
        headers = signed_headers(
            scheme=settings.vod_auth_scheme,
            access_key=settings.vod_access_key,
            secret_key=settings.vod_secret_key,
            method="POST",
            url=self._url,
            body=body,
            content_type=CONTENT_TYPE,
            timestamp=int(time.time()),
        )
        request = urllib.request.Request(  # noqa: S310 - the configured https or http URL
            self._url, data=body, method="POST", headers=headers
        )
        try:
            with urllib.request.urlopen(  # noqa: S310
                request, timeout=settings.vod_api_timeout_seconds
            ) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except OSError as error:  # refused, reset, DNS, TLS, timeout
            raise _Retry(f"network error: {getattr(error, 'reason', error)}") from None

    def _read(self, status: int, body: bytes) -> Page:
        try:
            answer = _answer.decode(body)
        except msgspec.DecodeError:  # also ValidationError: not the documented envelope
            if status == RATE_LIMITED:
                raise _Retry(f"rate limited: HTTP {status}") from None
            if status >= 500:
                raise _Retry(f"server error: HTTP {status}") from None
            raise VendorError(status, f"HTTP {status} with an undocumented body", status) from None
        if status == RATE_LIMITED or str(answer.code) == str(RATE_LIMITED):
            self.counts.rate_limited += 1
            raise _Retry(f"rate limited: code {answer.code}: {answer.message}")
        if str(answer.code) != "200":
            raise VendorError(answer.code, answer.message, status)
        self.counts.pages += 1
        data = answer.data or _Data()
        total = data.video_total
        try:
            total = None if total is None else int(total)
        except ValueError:
            total = None
        return Page([bytes(item) for item in data.video_list_info], total)

    async def pages(self, start: datetime, end: datetime) -> AsyncIterator[list[bytes]]:
        """Every page of the window, in order; a window too large to page is listed in halves."""
        index = 1
        while True:
            page = await self.page(start, end, index)
            cap = LAST_PAGE * PAGE_SIZE
            too_many = (index == 1 and page.total is not None and page.total > cap) or (
                index == LAST_PAGE and len(page.items) == PAGE_SIZE
            )
            if too_many and end - start > timedelta(seconds=1):
                middle = start + (end - start) / 2
                log.info(
                    "window holds more videos than the API pages; listing it in halves",
                    extra={"start": start.isoformat(), "end": end.isoformat()},
                )
                async for half in self.pages(start, middle):
                    yield half
                async for half in self.pages(middle, end):
                    yield half
                return
            if too_many:
                raise ApiUnavailable(
                    f"more than {cap} videos in the second {start.isoformat()}: cannot page them"
                )
            yield page.items
            if len(page.items) < PAGE_SIZE:
                return
            index += 1
