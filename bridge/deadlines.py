"""Fixed-length deadlines for many waits at once, checked by one ticker.

`asyncio.timeout` schedules and cancels a timer per use, which shows on the hot
path when every callback needs two. A wait with a fixed length expires in the
order it started, so a queue and one periodic check are enough: arming costs an
append, disarming a flag. Deadlines fire up to one tick late.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable


class Watch:
    __slots__ = ("deadline", "expire", "armed", "fired")

    def __init__(self, deadline: float, expire: Callable[[], object]) -> None:
        self.deadline = deadline
        self.expire = expire
        self.armed = True
        self.fired = False


class Deadlines:
    def __init__(self, seconds: float, tick: float = 0.1) -> None:
        self.seconds = seconds
        self.tick = min(tick, seconds / 4)
        self.queue: collections.deque[Watch] = collections.deque()
        self.ticker: asyncio.Task[None] | None = None

    def arm(self, expire: Callable[[], object]) -> Watch:
        """Call `expire` in `seconds`, unless the watch is disarmed before."""
        loop = asyncio.get_running_loop()
        watch = Watch(loop.time() + self.seconds, expire)
        self.queue.append(watch)
        if self.ticker is None:
            self.ticker = loop.create_task(self._tick())
        return watch

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while self.queue:
            await asyncio.sleep(self.tick)
            now = loop.time()
            while self.queue and self.queue[0].deadline <= now:
                watch = self.queue.popleft()
                if watch.armed:
                    watch.fired = True
                    watch.expire()
            while self.queue and not self.queue[0].armed:
                self.queue.popleft()
        self.ticker = None
