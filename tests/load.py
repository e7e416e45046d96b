"""A steady stream of callbacks, each with its own video ids, recording every answer."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from tests.samples import sample_video, video_body


@dataclass
class Outcome:
    video_ids: list[str]
    status: int  # 0 when the connection failed


@dataclass
class Stream:
    url: str
    prefix: str
    videos_per_callback: int = 2
    concurrency: int = 4
    outcomes: list[Outcome] = field(default_factory=list)
    _numbers: itertools.count[int] = field(default_factory=itertools.count)
    _answered: asyncio.Condition = field(default_factory=asyncio.Condition)

    def acknowledged(self) -> set[str]:
        return {
            vid for outcome in self.outcomes if outcome.status == 200 for vid in outcome.video_ids
        }

    def statuses(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for outcome in self.outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        return counts

    async def run(self, stop: asyncio.Event, client: httpx.AsyncClient | None = None) -> None:
        """Post until `stop` is set, `concurrency` callbacks at a time."""
        async with httpx.AsyncClient(timeout=30) as own:
            senders = (self._sender(client or own, stop) for _ in range(self.concurrency))
            await asyncio.gather(*senders)

    async def _sender(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        while not stop.is_set():
            n = next(self._numbers)
            ids = [f"{self.prefix}-{n}-{i}" for i in range(self.videos_per_callback)]
            body = video_body(*(sample_video(videoId=vid) for vid in ids))
            try:
                response = await client.post(
                    self.url, content=body, headers={"content-type": "application/json"}
                )
                status = response.status_code
            except httpx.TransportError:
                status = 0
            async with self._answered:
                self.outcomes.append(Outcome(ids, status))
                self._answered.notify_all()
            if status != 200:
                await asyncio.sleep(0.05)  # as a sender backs off; not a synchronisation

    async def until(self, predicate: Callable[[Stream], bool], within: float) -> None:
        """Wait until `predicate` holds, checked after each answer."""
        async with asyncio.timeout(within), self._answered:
            await self._answered.wait_for(lambda: predicate(self))
