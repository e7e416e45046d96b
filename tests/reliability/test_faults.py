"""Faults against the real broker and the real server, under steady load.

Each scenario runs a sender that behaves like the platform (it retries a 503
or an unanswered callback with the same bytes) and records every answer;
afterwards the topic is read in full and every video event answered 200 must
be in it. The bridge must recover on its own: same process, no restart, for
broker faults. Each scenario is reported (see report.py) and asserted: lost 0.

The short profile runs in `make test`; the long one (more load, longer
outages, several cycles) in `make reliability`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import psutil
import pytest

from bridge.settings import Settings
from tests.broker import LocalBroker
from tests.kafka_tools import unique_topic
from tests.ports import free_port
from tests.reliability.ledger import Audit, audit
from tests.reliability.report import ScenarioReport, add_scenario
from tests.reliability.sender import Sender
from tests.running import rss_mib
from tests.samples import VIDEO_SAMPLE
from tests.servers import BridgeProcess

pytestmark = pytest.mark.kafka

TOKEN = "reliability-token-0123456789"
ROUTE = f"/callbacks/video-upload/{TOKEN}"


@dataclass(frozen=True)
class Profile:
    name: str
    rate: float  # callbacks per second, besides the lanes
    warm_up: int  # video events acknowledged before the first fault
    outage: float  # seconds a fault lasts once it bit
    after: int  # video events acknowledged after each recovery
    cycles: int
    produce_timeout: float
    startup_timeout: float
    freeze: float  # seconds the broker stays frozen: more than the produce timeout


SHORT = Profile("short", 25, 50, 1, 50, 1, produce_timeout=2, startup_timeout=1, freeze=5)
LONG = Profile("long", 60, 1000, 15, 1000, 3, produce_timeout=10, startup_timeout=15, freeze=25)
PROFILES = [
    pytest.param(SHORT, id="short"),
    pytest.param(LONG, id="long", marks=[pytest.mark.long, pytest.mark.timeout(1800)]),
]


def settings_for(bootstrap: str, profile: Profile, **extra: str) -> dict[str, str]:
    return {
        "kafka_bootstrap_servers": bootstrap,
        "topic_video_upload": unique_topic("video"),
        "topic_material_upload": unique_topic("material"),
        "topic_dlq": unique_topic("dlq"),
        "create_topics": "true",
        "topic_partitions": "3",
        "auth_tokens": TOKEN,
        "retry_after_seconds": "1",
        "produce_timeout_seconds": str(profile.produce_timeout),
        "startup_timeout_seconds": str(profile.startup_timeout),
        **extra,
    }


def sender_for(bridge: BridgeProcess, profile: Profile, **options: Any) -> Sender:
    prefix = f"rel-{uuid.uuid4().hex[:8]}"
    return Sender(bridge.url + ROUTE, prefix, rate=profile.rate, lanes=4, **options)


@asynccontextmanager
async def traffic(*senders: Sender) -> AsyncIterator[None]:
    """The senders run while the block runs; on leaving, their last callbacks finish."""
    stop = asyncio.Event()
    running = [asyncio.create_task(sender.run(stop)) for sender in senders]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*running)


@asynccontextmanager
async def recovering_bridge(log: Path, settings: dict[str, str]) -> AsyncIterator[BridgeProcess]:
    """A bridge for the block, which must end with the same process still running, ready."""
    bridge = await asyncio.to_thread(BridgeProcess(log, **settings).start)
    try:
        yield bridge
        assert bridge.exit_code() is None  # recovered on its own, in the same process
        assert await asyncio.to_thread(bridge.ready_status) == 200
    finally:
        await asyncio.to_thread(bridge.stop)


def scenario_report(
    scenario: str,
    profile: Profile,
    senders: list[Sender],
    result: Audit,
    recoveries: list[Recovery],
    seconds: float,
    **notes: Any,
) -> ScenarioReport:
    statuses: dict[int, int] = {}
    for sender in senders:
        for status, count in sender.statuses().items():
            statuses[status] = statuses.get(status, 0) + count
    callbacks = [callback for sender in senders for callback in sender.callbacks]
    report = ScenarioReport(
        scenario=scenario,
        profile=profile.name,
        seconds=round(seconds, 1),
        callbacks=len(callbacks),
        attempts=sum(statuses.values()),
        answered_200=statuses.pop(200, 0),
        answered_503=statuses.pop(503, 0),
        connection_failures=statuses.pop(0, 0),
        other_statuses={str(status): count for status, count in statuses.items()},
        given_up=sum(1 for callback in callbacks if not callback.acknowledged),
        acknowledged=result.acknowledged,
        records=result.records,
        lost=len(result.lost),
        duplicates=result.duplicates,
        stored_unacknowledged=result.unacknowledged_stored,
        late_copies=result.late_copies,
        order_violations=result.order_violations,
        recover_seconds=round(max(r.recover for r in recoveries), 2),
        unavailable_seconds=round(max(r.unavailable for r in recoveries), 2),
        notes={
            "recover_seconds": [round(r.recover, 2) for r in recoveries],
            "unavailable_seconds": [round(r.unavailable, 2) for r in recoveries],
            **notes,
        },
    )
    add_scenario(report)
    return report


def assert_nothing_lost(report: ScenarioReport, result: Audit) -> None:
    assert result.lost == []
    assert report.lost == 0
    assert report.other_statuses == {}
    assert result.strangers == 0  # every record is byte for byte what was sent
    assert result.bad_headers == 0  # ce_id is the digest of the value, ce_subject the key
    assert result.unequal_duplicates == 0  # a duplicate is the same key, value and ce_id
    assert result.order_violations == 0  # acknowledged versions of a key stay in order
    assert report.acknowledged > 0


def failed_since(sender: Sender, moment: float) -> bool:
    return sender.failures_since(moment) > 0


class Recovery(NamedTuple):
    recover: float  # fault removed -> the first 200 to a callback sent after that
    unavailable: float  # fault began -> the same 200: the outage the sender saw


async def recover(sender: Sender, faulted: float, healed: float, profile: Profile) -> Recovery:
    """Wait for the first 200 to a callback sent after `healed`, then for more traffic."""
    await sender.until(lambda s: s.first_success_after(healed) is not None, within=90)
    recovered = sender.first_success_after(healed)
    assert recovered is not None
    await sender.until_acknowledged(sender.acknowledged_videos + profile.after)
    return Recovery(recovered, healed + recovered - faulted)


# -- the broker -----------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
async def test_broker_killed_and_restarted_under_load(
    profile: Profile, quiet_broker: LocalBroker, tmp_path: Path
) -> None:
    settings = settings_for(quiet_broker.bootstrap, profile)
    async with recovering_bridge(tmp_path / "bridge.log", settings) as bridge:
        sender = sender_for(bridge, profile)
        recoveries: list[Recovery] = []
        started = time.monotonic()
        async with traffic(sender):
            await sender.until_acknowledged(profile.warm_up)
            for _ in range(profile.cycles):
                await asyncio.to_thread(quiet_broker.kill)
                killed = time.monotonic()
                await sender.until(partial(failed_since, moment=killed), within=60)
                await asyncio.sleep(profile.outage)  # how long the broker stays down
                await asyncio.to_thread(quiet_broker.start)
                recoveries.append(await recover(sender, killed, time.monotonic(), profile))
        seconds = time.monotonic() - started
        replaced = bridge.metric("bridge_producer_recreations_total")
    result = await audit(quiet_broker.bootstrap, settings["topic_video_upload"], sender)

    report = scenario_report(
        "broker SIGKILL, restart",
        profile,
        [sender],
        result,
        recoveries,
        seconds,
        cycles=profile.cycles,
        producer_recreations=replaced,
    )
    assert_nothing_lost(report, result)
    assert report.answered_503 + report.connection_failures > 0  # the fault bit
    assert report.recover_seconds < 60


def memory_while_frozen(
    before: float, samples: list[tuple[float, float]], flood: Sender, settled: float
) -> dict[str, float]:
    """RSS during a freeze, against the bodies refused with 503 meanwhile.

    From `settled` on (the first refused callbacks answered), the callbacks
    holding records come and go: memory should stay level while the refused
    traffic adds up.
    """
    once_settled = [rss for moment, rss in samples if moment >= settled]
    refused = sum(
        callback.size
        for callback in flood.callbacks
        for attempt in callback.attempts
        if attempt.status == 503 and attempt.started >= settled
    )
    return {
        "rss_before_mib": round(before, 1),
        "rss_peak_mib": round(max(rss for _, rss in samples), 1),
        "rss_growth_once_settled_mib": round(once_settled[-1] - once_settled[0], 1),
        "refused_mib_once_settled": round(refused / 2**20, 1),
        "videos_refused": sum(len(c.videos) for c in flood.callbacks if not c.acknowledged),
    }


@pytest.mark.parametrize("profile", PROFILES)
async def test_broker_frozen_longer_than_the_produce_timeout(
    profile: Profile, quiet_broker: LocalBroker, tmp_path: Path
) -> None:
    timeout = profile.produce_timeout
    settings = settings_for(quiet_broker.bootstrap, profile)
    async with recovering_bridge(tmp_path / "bridge.log", settings) as bridge:
        assert bridge.process is not None
        pid = bridge.process.pid
        sender = sender_for(bridge, profile)
        recoveries: list[Recovery] = []
        frozen_windows: list[tuple[float, float]] = []
        memory: list[dict[str, float]] = []
        floods: list[Sender] = []
        started = time.monotonic()
        async with traffic(sender):
            await sender.until_acknowledged(profile.warm_up)
            for _ in range(profile.cycles):
                # During the freeze, a flood of large callbacks: each holds its
                # records until the produce timeout, then is answered 503.
                flood = sender_for(bridge, profile, videos_per_callback=500, in_flight=16, tries=1)
                floods.append(flood)
                before = rss_mib(pid)
                await asyncio.to_thread(quiet_broker.freeze)
                frozen = time.monotonic()
                samples: list[tuple[float, float]] = []
                async with traffic(flood):
                    while time.monotonic() < frozen + profile.freeze:
                        samples.append((time.monotonic(), rss_mib(pid)))
                        await asyncio.sleep(0.25)  # the sampling period
                await asyncio.to_thread(quiet_broker.thaw)
                thawed = time.monotonic()
                frozen_windows.append((frozen, thawed))
                recoveries.append(await recover(sender, frozen, thawed, profile))
                memory.append(memory_while_frozen(before, samples, flood, frozen + timeout + 0.5))
        seconds = time.monotonic() - started
        fds = psutil.Process(pid).num_fds()
    senders = [sender, *floods]
    result = await audit(quiet_broker.bootstrap, settings["topic_video_upload"], *senders)

    while_frozen = [
        attempt
        for one in senders
        for attempt in one.attempts()
        for frozen, thawed in frozen_windows
        if frozen + 0.2 < attempt.started and attempt.ended < thawed
    ]
    slowest = max(attempt.ended - attempt.started for attempt in while_frozen)
    report = scenario_report(
        "broker SIGSTOP > produce timeout, SIGCONT",
        profile,
        senders,
        result,
        recoveries,
        seconds,
        freeze_seconds=profile.freeze,
        slowest_answer_while_frozen=round(slowest, 2),
        memory=memory,
        open_fds_after=fds,
    )
    assert_nothing_lost(report, result)
    assert {attempt.status for attempt in while_frozen} == {503}
    assert slowest < timeout + 2  # every answer within the produce timeout
    # Memory does not grow with the traffic refused while frozen: what the bridge may hold
    # is bounded by its configuration, whatever the refused traffic adds up to. Each
    # callback in flight holds three copies of its bytes (the body, its items' values, their
    # place in a batch), plus what may wait for the producer before a partition counts as
    # stalled (a few batches each).
    flood_bodies = 3 * 16 * max(c.size for flood in floods for c in flood.callbacks) / 2**20
    waiting_batches = 3 * 4 * Settings().kafka_max_batch_bytes / 2**20
    for cycle in memory:
        assert cycle["rss_growth_once_settled_mib"] < flood_bodies + waiting_batches
    if len(memory) > 1:  # and a second freeze does not add to the first
        assert memory[-1]["rss_peak_mib"] < memory[0]["rss_peak_mib"] + waiting_batches
    assert report.recover_seconds < 60


@pytest.mark.parametrize("profile", PROFILES)
async def test_broker_unreachable_at_start_up_then_appearing(
    profile: Profile, tmp_path: Path
) -> None:
    broker = LocalBroker(tmp_path / "kafka", port=free_port(), controller_port=free_port())
    settings = settings_for(broker.bootstrap, profile)  # a broker not started yet
    bridge = BridgeProcess(tmp_path / "bridge.log", **settings)
    await asyncio.to_thread(bridge.start, ready=False)
    sender = sender_for(bridge, profile)
    started = time.monotonic()
    try:
        async with httpx.AsyncClient(base_url=bridge.url, timeout=30) as client:
            ready = await client.get("/readyz")
            callback = await client.post(
                ROUTE, content=VIDEO_SAMPLE, headers={"content-type": "application/json"}
            )
        assert (ready.status_code, ready.json()) == (
            503,
            {"code": 503, "message": "not ready: not connected to Kafka"},
        )
        assert (callback.status_code, callback.json()) == (
            503,
            {"code": 503, "message": "Not connected to Kafka yet; retry later"},
        )
        assert callback.headers["retry-after"] == "1"
        async with traffic(sender):
            await sender.until(lambda s: s.statuses().get(503, 0) >= 10, within=60)
            await asyncio.sleep(profile.outage)  # how long the broker stays away
            assert await asyncio.to_thread(bridge.ready_status) == 503
            await asyncio.to_thread(broker.start)
            appeared = time.monotonic()
            ready_after = await bridge.wait_ready(200, within=60)
            recovered = await recover(sender, started, appeared, profile)
        seconds = time.monotonic() - started
        assert bridge.exit_code() is None
        result = await audit(broker.bootstrap, settings["topic_video_upload"], sender)
    finally:
        await asyncio.to_thread(bridge.stop)
        await asyncio.to_thread(broker.stop)

    report = scenario_report(
        "broker unreachable at start-up",
        profile,
        [sender],
        result,
        [recovered],
        seconds,
        ready_seconds_after_broker=round(ready_after, 2),
    )
    assert_nothing_lost(report, result)
    assert report.answered_503 >= 10
    assert report.recover_seconds < 60


# -- the bridge itself ------------------------------------------------------------------


async def bridge_replaced_under_load(
    profile: Profile, bootstrap: str, tmp_path: Path, how: str
) -> tuple[ScenarioReport, Audit, list[int | None]]:
    """Stop the bridge under load (`terminate`: SIGTERM, `kill`: SIGKILL) and start another."""
    settings = settings_for(bootstrap, profile)
    port = free_port()
    bridge = await asyncio.to_thread(
        BridgeProcess.at(port, tmp_path / "bridge-0.log", **settings).start
    )
    sender = sender_for(bridge, profile)
    recoveries: list[Recovery] = []
    exit_codes: list[int | None] = []
    started = time.monotonic()
    try:
        async with traffic(sender):
            await sender.until_acknowledged(profile.warm_up)
            for cycle in range(profile.cycles):
                stopped = time.monotonic()
                if how == "terminate":
                    exit_codes.append(await asyncio.to_thread(bridge.stop))
                else:
                    await asyncio.to_thread(bridge.kill)
                    exit_codes.append(bridge.wait())
                bridge = BridgeProcess.at(port, tmp_path / f"bridge-{cycle + 1}.log", **settings)
                await asyncio.to_thread(bridge.start)
                recoveries.append(await recover(sender, stopped, time.monotonic(), profile))
        seconds = time.monotonic() - started
    finally:
        await asyncio.to_thread(bridge.stop)
    result = await audit(bootstrap, settings["topic_video_upload"], sender)
    scenario = "bridge SIGTERM, restart" if how == "terminate" else "bridge SIGKILL, restart"
    report = scenario_report(
        scenario, profile, [sender], result, recoveries, seconds, exit_codes=exit_codes
    )
    return report, result, exit_codes


@pytest.mark.parametrize(
    ("how", "exit_code"),
    [
        pytest.param("terminate", 0, id="terminated"),  # drained and flushed in time
        pytest.param("kill", -9, id="killed"),
    ],
)
@pytest.mark.parametrize("profile", PROFILES)
async def test_bridge_replaced_under_load(
    profile: Profile, how: str, exit_code: int, kafka_bootstrap: str, tmp_path: Path
) -> None:
    report, result, exit_codes = await bridge_replaced_under_load(
        profile, kafka_bootstrap, tmp_path, how
    )

    assert_nothing_lost(report, result)
    assert exit_codes == [exit_code] * profile.cycles
