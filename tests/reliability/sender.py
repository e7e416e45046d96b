"""A sender that behaves like the platform, and remembers every answer it got.

Callbacks are sent at a steady rate, each with its own video ids; a callback
answered 503 (or not answered) is sent again, byte for byte, after the
`Retry-After`, up to `tries` times, as the platform's peers do. "Lanes" send
successive versions of one video each, one after the other, to check per-key
order. Every attempt is kept: when it started and ended, and its status.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from tests.samples import sample_video

RETRYABLE = frozenset({0, 503})
LANE_PAUSE = 0.1  # seconds between the versions a lane sends


@dataclass
class Attempt:
    started: float  # time.monotonic()
    ended: float
    status: int  # 0: no answer (refused, reset or timed out)
    message: str = ""  # the answer's message when not 200


@dataclass
class Callback:
    number: int
    videos: dict[str, bytes]  # video id -> the item's exact bytes
    body: bytes  # dropped once answered, to keep long runs small
    lane: int | None = None
    version: int = 0
    attempts: list[Attempt] = field(default_factory=list)
    size: int = 0  # of the body

    def __post_init__(self) -> None:
        self.size = len(self.body)

    @property
    def acknowledged(self) -> bool:
        return any(attempt.status == 200 for attempt in self.attempts)


def callback_body(items: list[bytes]) -> bytes:
    return (
        b'{"code":200,"data":{"videoListInfo":['
        + b",".join(items)
        + b'],"videoTotal":%d},"message":"success"}' % len(items)
    )


def video_item(video_id: str, version: int = 1) -> bytes:
    video = sample_video(videoId=video_id, updateTime=str(1_700_000_000 + version))
    return json.dumps(video, separators=(",", ":")).encode()


class Sender:
    def __init__(
        self,
        url: str,
        prefix: str,
        *,
        rate: float,
        videos_per_callback: int = 2,
        in_flight: int = 16,
        tries: int = 3,
        lanes: int = 0,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.rate = rate
        self.videos_per_callback = videos_per_callback
        self.in_flight = in_flight
        self.tries = tries
        self.lanes = lanes
        self.callbacks: list[Callback] = []
        self._numbers = itertools.count()
        self._answered = asyncio.Condition()
        self._acknowledged_videos = 0

    # -- sending -----------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set; callbacks already started finish their tries."""
        limits = httpx.Limits(max_connections=self.in_flight + self.lanes + 4)
        timeout = httpx.Timeout(30, connect=5)
        async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
            lanes = [self._lane(client, stop, lane) for lane in range(self.lanes)]
            await asyncio.gather(self._paced(client, stop), *lanes)

    async def _paced(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        slots = asyncio.Semaphore(self.in_flight)
        sending: set[asyncio.Task[None]] = set()
        interval = 1 / self.rate
        next_at = time.monotonic()
        while not stop.is_set():
            await slots.acquire()
            delay = next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # the sending rate, not a synchronisation
            next_at = max(next_at + interval, time.monotonic() - interval)
            if stop.is_set():
                slots.release()
                break
            task = asyncio.create_task(self._deliver(client, self._new_callback()))
            sending.add(task)
            task.add_done_callback(sending.discard)
            task.add_done_callback(lambda _: slots.release())
        await asyncio.gather(*sending)

    async def _lane(self, client: httpx.AsyncClient, stop: asyncio.Event, lane: int) -> None:
        video_id = f"{self.prefix}-lane{lane}"
        for version in itertools.count(1):
            if stop.is_set():
                return
            number = next(self._numbers)
            item = video_item(video_id, version)
            callback = Callback(number, {video_id: item}, callback_body([item]), lane, version)
            self.callbacks.append(callback)
            await self._deliver(client, callback)
            await asyncio.sleep(LANE_PAUSE)  # a lane's pace, not a synchronisation

    def _new_callback(self) -> Callback:
        number = next(self._numbers)
        ids = [f"{self.prefix}-{number}-{i}" for i in range(self.videos_per_callback)]
        items = [video_item(video_id) for video_id in ids]
        callback = Callback(number, dict(zip(ids, items, strict=True)), callback_body(items))
        self.callbacks.append(callback)
        return callback

    async def _deliver(self, client: httpx.AsyncClient, callback: Callback) -> None:
        for _ in range(self.tries):
            started = time.monotonic()
            retry_after = 0.5
            try:
                response = await client.post(
                    self.url, content=callback.body, headers={"content-type": "application/json"}
                )
                status = response.status_code
                message = "" if status == 200 else _message_of(response)
                retry_after = float(response.headers.get("retry-after", retry_after))
            except httpx.TransportError as error:
                status, message = 0, type(error).__name__
            async with self._answered:
                callback.attempts.append(Attempt(started, time.monotonic(), status, message))
                if status == 200:
                    self._acknowledged_videos += len(callback.videos)
                self._answered.notify_all()
            if status not in RETRYABLE:
                break
            await asyncio.sleep(retry_after)  # the sender's back-off, as the platform's
        callback.body = b""

    # -- waiting -------------------------------------------------------------

    async def until(self, predicate: Callable[[Sender], bool], within: float) -> None:
        """Wait until `predicate` holds, checked after each answer."""
        async with asyncio.timeout(within), self._answered:
            await self._answered.wait_for(lambda: predicate(self))

    async def until_acknowledged(self, videos: int, within: float = 120) -> None:
        await self.until(lambda s: s._acknowledged_videos >= videos, within)

    # -- what happened ---------------------------------------------------------

    @property
    def acknowledged_videos(self) -> int:
        return self._acknowledged_videos

    def attempts(self) -> list[Attempt]:
        return [attempt for callback in self.callbacks for attempt in callback.attempts]

    def failures_since(self, moment: float) -> int:
        return sum(1 for a in self.attempts() if a.ended >= moment and a.status != 200)

    def first_success_after(self, moment: float) -> float | None:
        """Seconds from `moment` to the first 200 to an attempt started after it."""
        ends = [a.ended for a in self.attempts() if a.status == 200 and a.started >= moment]
        return min(ends) - moment if ends else None

    def statuses(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for attempt in self.attempts():
            counts[attempt.status] = counts.get(attempt.status, 0) + 1
        return counts


def _message_of(response: httpx.Response) -> str:
    try:
        message = response.json().get("message", "")
    except ValueError:
        message = response.text
    return str(message)[:200]
