"""Starting producers: at start-up until the cluster lets us in, and as replacements."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError

from bridge.kafka.errors import StartupError
from bridge.kafka.options import client_options, producer_options
from bridge.kafka.preflight import refusal
from bridge.settings import Settings

log = logging.getLogger("bridge.kafka.connection")

REPLACE_TIMEOUT = 10.0  # seconds a replacement producer has to start
RETIRE_TIMEOUT = 10.0  # seconds a replaced producer has to stop


async def connect_until_done(
    settings: Settings, connect: Callable[[], Awaitable[None]], starting: Callable[[], bool]
) -> None:
    """Call `connect` until it succeeds, backing off; retry what a retry can fix.

    While `starting()`, a refusal that needs an operator (wrong password, untrusted CA,
    missing topic or ACL) raises `StartupError`; later it is logged and retried.
    """
    backoff = 0.2
    while True:
        try:
            await connect()
            return
        except KafkaConnectionError as error:
            reason = await refusal(settings, client_options(settings))
            if reason is None:
                log.info("kafka not reachable; retrying", extra={"error": str(error)})
            elif starting():
                raise StartupError(reason) from None
            else:
                log.error(reason)
        except KafkaError as error:
            log.warning("kafka refused; retrying", extra={"error": repr(error)})
        except StartupError as error:
            if starting():
                raise
            log.error(str(error))
            backoff = 5.0
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, 5.0)


async def new_producer(settings: Settings) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(**producer_options(settings))
    try:
        await producer.start()
    except BaseException:
        await producer.stop()
        raise
    return producer


async def replacement(settings: Settings) -> AIOKafkaProducer | None:
    """A new producer within `REPLACE_TIMEOUT`, or None (the watchdog tries again)."""
    try:
        return await asyncio.wait_for(new_producer(settings), REPLACE_TIMEOUT)
    except (TimeoutError, KafkaError) as error:
        log.warning("could not start a new producer yet", extra={"error": repr(error)})
        return None


async def retire(producer: AIOKafkaProducer) -> None:
    try:
        await asyncio.wait_for(producer.stop(), RETIRE_TIMEOUT)
    except (TimeoutError, KafkaError):
        log.warning("the replaced producer did not stop cleanly")
