"""Faults of a production-shaped cluster: three nodes, RF 3, min.insync.replicas=2, SCRAM, ACLs.

The bridge reaches the cluster over SASL_SSL, as in production (through
Toxiproxy for the network faults); the tests read and administer it over its
plaintext tools listener. As in test_faults.py, a sender that retries like
the platform keeps a steady stream going, and afterwards the topic must hold
every video answered 200. The bridge recovers in the same process each time.

The short profile runs in `make test`; the long one in `make reliability`.
"""

from __future__ import annotations

import asyncio
import collections
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.cluster import LocalCluster, granted_topics
from tests.kafka_tools import java_partition, unique_topic
from tests.oauth_server import TokenEndpoint
from tests.reliability.ledger import audit
from tests.reliability.report import ScenarioReport
from tests.reliability.sender import Attempt, Callback, Sender
from tests.reliability.test_faults import (
    ROUTE,
    TOKEN,
    Profile,
    Recovery,
    assert_nothing_lost,
    failed_since,
    recover,
    recovering_bridge,
    scenario_report,
    sender_for,
    traffic,
)
from tests.servers import BridgeProcess
from tests.toxiproxy import (
    Toxic,
    ToxiproxyServer,
    bandwidth,
    black_hole,
    latency,
    limit_data,
    reset_peer,
)

# The first test to ask for the cluster waits for it to start (minutes on a busy machine).
pytestmark = [pytest.mark.kafka, pytest.mark.timeout(900)]

# Three nodes on two shared cores are slower than one: a longer produce timeout.
SHORT = Profile("short", 20, 40, 1, 40, 1, produce_timeout=5, startup_timeout=15, freeze=0)
LONG = Profile("long", 50, 1000, 15, 1000, 3, produce_timeout=10, startup_timeout=15, freeze=0)
PROFILES = [
    pytest.param(SHORT, id="short"),
    pytest.param(LONG, id="long", marks=[pytest.mark.long, pytest.mark.timeout(1800)]),
]
LONG_ONLY = [pytest.param(LONG, id="long", marks=[pytest.mark.long, pytest.mark.timeout(1800)])]
RECOVERY_LIMIT = 20.0  # seconds from a fault's end to the first 200 after it


async def cluster_settings(
    cluster: LocalCluster,
    profile: Profile,
    video_topic: str | None = None,
    env_file: str = "bridge.env",
    **extra: str,
) -> dict[str, str]:
    """A bridge over SASL_SSL on topics of its own (RF 3, 6 partitions), created and granted."""
    topics = granted_topics(**({"topic_video_upload": video_topic} if video_topic else {}))
    settings = {
        **cluster.settings(env_file),
        **topics,
        "auth_tokens": TOKEN,
        "retry_after_seconds": "1",
        "produce_timeout_seconds": str(profile.produce_timeout),
        "startup_timeout_seconds": str(profile.startup_timeout),
        **extra,
    }
    await cluster.create_topics(*topics.values())
    return settings


@asynccontextmanager
async def bridge_on(
    cluster: LocalCluster,
    profile: Profile,
    log: Path,
    video_topic: str | None = None,
    env_file: str = "bridge.env",
    **extra: str,
) -> AsyncIterator[tuple[BridgeProcess, dict[str, str]]]:
    settings = await cluster_settings(cluster, profile, video_topic, env_file, **extra)
    async with recovering_bridge(log, settings) as bridge:
        yield bridge, settings


async def busiest_partition(cluster: LocalCluster, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=cluster.tools_bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(6)]
        ends = await consumer.end_offsets(partitions)
        partition: int = max(ends, key=lambda tp: ends[tp]).partition
        return partition
    finally:
        await consumer.stop()


def attempts_within(sender: Sender, start: float, end: float) -> list[Attempt]:
    return [a for a in sender.attempts() if a.started >= start and a.ended <= end]


def answered_since(sender: Sender, moment: float, count: int) -> bool:
    return sum(1 for a in sender.attempts() if a.started >= moment) >= count


def messages(attempts: list[Attempt]) -> dict[str, int]:
    return dict(
        collections.Counter(a.message or str(a.status) for a in attempts if a.status != 200)
    )


async def report_of(
    cluster: LocalCluster,
    scenario: str,
    profile: Profile,
    sender: Sender,
    topic: str,
    recoveries: list[Recovery],
    seconds: float,
    floods: Sequence[Sender] = (),
    **notes: Any,
) -> ScenarioReport:
    result = await audit(cluster.tools_bootstrap, topic, sender, *floods)
    senders = [sender, *floods]
    report = scenario_report(scenario, profile, senders, result, recoveries, seconds, **notes)
    assert_nothing_lost(report, result)
    assert report.recover_seconds <= RECOVERY_LIMIT
    return report


# -- 1. the leader of the busiest partition killed --------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
async def test_leader_of_the_busiest_partition_killed_and_back(
    profile: Profile, kafka_cluster: LocalCluster, tmp_path: Path
) -> None:
    recoveries: list[Recovery] = []
    killed_nodes = []
    started = time.monotonic()
    async with bridge_on(kafka_cluster, profile, tmp_path / "bridge.log") as (bridge, settings):
        topic = settings["topic_video_upload"]
        sender = sender_for(bridge, profile)
        async with traffic(sender):
            await sender.until_acknowledged(profile.warm_up)
            for _ in range(profile.cycles):
                partition = await busiest_partition(kafka_cluster, topic)
                leader = (await kafka_cluster.leaders(topic))[partition]
                killed_nodes.append(leader)
                await asyncio.to_thread(kafka_cluster.kill, leader)
                killed = time.monotonic()
                await asyncio.sleep(profile.outage)  # how long the node stays down
                await asyncio.to_thread(kafka_cluster.up)
                recoveries.append(await recover(sender, killed, time.monotonic(), profile))
        seconds = time.monotonic() - started
        replaced = bridge.metric("bridge_producer_recreations_total")
    await report_of(
        kafka_cluster,
        "cluster: leader of the busiest partition SIGKILL",
        profile,
        sender,
        topic,
        recoveries,
        seconds,
        killed_nodes=killed_nodes,
        producer_recreations=replaced,
        refusals=messages(sender.attempts()),
    )


# -- 2. a rolling restart ----------------------------------------------------------------


@pytest.mark.parametrize("profile", LONG_ONLY)
async def test_rolling_restart_of_all_three_brokers(
    profile: Profile, kafka_cluster: LocalCluster, tmp_path: Path
) -> None:
    recoveries: list[Recovery] = []
    started = time.monotonic()
    async with bridge_on(kafka_cluster, profile, tmp_path / "bridge.log") as (bridge, settings):
        sender = sender_for(bridge, profile)
        async with traffic(sender):
            await sender.until_acknowledged(profile.warm_up)
            for node in (1, 2, 3):
                await asyncio.to_thread(kafka_cluster.stop, node)
                stopped = time.monotonic()
                await asyncio.to_thread(kafka_cluster.up)  # back, and every replica in sync
                recoveries.append(await recover(sender, stopped, time.monotonic(), profile))
        seconds = time.monotonic() - started
    report = await report_of(
        kafka_cluster,
        "cluster: rolling restart",
        profile,
        sender,
        settings["topic_video_upload"],
        recoveries,
        seconds,
        refusals=messages(sender.attempts()),
    )
    # One node at a time leaves two in sync, as many as min.insync.replicas asks.
    assert report.given_up == 0


# -- 3. two of three down ----------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
async def test_two_of_three_brokers_down_every_callback_is_503(
    profile: Profile, kafka_cluster: LocalCluster, tmp_path: Path
) -> None:
    recoveries: list[Recovery] = []
    windows = []
    started = time.monotonic()
    async with bridge_on(kafka_cluster, profile, tmp_path / "bridge.log") as (bridge, settings):
        sender = sender_for(bridge, profile)
        async with traffic(sender):
            await sender.until_acknowledged(profile.warm_up)
            for _ in range(profile.cycles):
                await asyncio.gather(
                    asyncio.to_thread(kafka_cluster.kill, 2),
                    asyncio.to_thread(kafka_cluster.kill, 3),
                )
                killed = time.monotonic()
                # Down until enough callbacks sent since have been answered to judge by.
                await sender.until(partial(answered_since, moment=killed, count=10), within=120)
                await asyncio.sleep(profile.outage)  # how long the two stay down
                restarting = time.monotonic()
                windows.append((killed, restarting))
                await asyncio.to_thread(kafka_cluster.up)
                recoveries.append(await recover(sender, killed, time.monotonic(), profile))
        seconds = time.monotonic() - started
    while_down = [a for start, end in windows for a in attempts_within(sender, start, end)]
    await report_of(
        kafka_cluster,
        "cluster: two of three nodes SIGKILL",
        profile,
        sender,
        settings["topic_video_upload"],
        recoveries,
        seconds,
        answers_while_down=messages(while_down),
    )
    # Fewer replicas in sync than min.insync.replicas: nothing may be acknowledged.
    assert while_down
    assert {attempt.status for attempt in while_down} <= {503, 0}


# -- 4. the network between the bridge and one broker (Toxiproxy) ------------------------

PARTITIONS = 6  # of the bridge's topics on the cluster (granted_topics, create_topics)
LATENCY_S = 0.5


@dataclass(frozen=True)
class NetworkFault:
    toxics: tuple[Toxic, ...]  # on the connections of one broker's proxy, open ones included
    settings: dict[str, str] = field(default_factory=dict)  # of the bridge
    flood: bool = False  # besides the steady stream, large callbacks while the fault lasts


NETWORK_FAULTS = {
    # The broker's answers 500 ms late: every round trip to it 500 ms longer.
    "latency": NetworkFault((latency(500),)),
    # Nothing gets through either way, and connections hang (neither refused nor closed).
    "black hole": NetworkFault((black_hole("upstream"), black_hole("downstream"))),
    # Each connection closed after 16 kB of answers, mid-answer: past its TLS and SASL
    # handshakes and a few dozen produce answers, so that requests the broker carried out
    # go unanswered, again and again.
    "connections cut mid-answer": NetworkFault((limit_data(16_000),)),
    # Each connection reset at the broker's next answer, which is lost, and every new one
    # at its first bytes: the broker is out of reach, refused rather than silent.
    "connections reset": NetworkFault((reset_peer(),)),
    # Records uncompressed, and a flood of large callbacks on top of the steady stream, so
    # that the link is the bottleneck: lz4 shrinks these look-alike videos some 45-fold, and
    # the steady stream alone needs about 1 KB/s to a broker.
    "bandwidth 100 KB/s": NetworkFault(
        (bandwidth(100, stream="upstream"), bandwidth(100)),
        settings={"kafka_compression": "none"},
        flood=True,
    ),
}


class Window(NamedTuple):
    node: int
    partitions: frozenset[int]  # of the video topic, led by `node`
    faulted: float
    healed: float
    connections: int  # that the broker's proxy accepted meanwhile


class Partitions:
    """The partitions each callback's videos go to (computed once per callback)."""

    def __init__(self) -> None:
        self._of: dict[int, frozenset[int]] = {}

    def of(self, callback: Callback) -> frozenset[int]:
        known = self._of.get(callback.number)
        if known is None:
            keys = [video_id.encode() for video_id in callback.videos]
            known = frozenset(java_partition(key, PARTITIONS) for key in keys)
            self._of[callback.number] = known
        return known

    def attempts(self, sender: Sender, window: Window, *, through: bool) -> list[Attempt]:
        """Attempts made while the fault was on, to callbacks with (`through`) or without a
        record on the faulted broker's partitions."""
        return [
            attempt
            for callback in sender.callbacks
            if bool(self.of(callback) & window.partitions) == through
            for attempt in callback.attempts
            if window.faulted + 1 < attempt.started and attempt.ended < window.healed
        ]

    def first_success_after(
        self, sender: Sender, partitions: frozenset[int], moment: float
    ) -> float | None:
        """Seconds from `moment` to the first 200 to an attempt started after it, of a
        callback with a record on `partitions`."""
        ends = [
            attempt.ended
            for callback in sender.callbacks
            for attempt in callback.attempts
            if attempt.status == 200 and attempt.started >= moment
            if self.of(callback) & partitions
        ]
        return min(ends) - moment if ends else None


async def recover_through(
    sender: Sender, partitions: Partitions, window: Window, profile: Profile
) -> Recovery:
    """As `recover`, counting only callbacks with a record on the faulted broker's partitions:
    the others never stopped."""

    def recovered(sender: Sender) -> float | None:
        return partitions.first_success_after(sender, window.partitions, window.healed)

    await sender.until(lambda s: recovered(s) is not None, within=90)
    seconds = recovered(sender)
    assert seconds is not None
    await sender.until_acknowledged(sender.acknowledged_videos + profile.after)
    return Recovery(seconds, window.healed + seconds - window.faulted)


@asynccontextmanager
async def readiness(bridge: BridgeProcess) -> AsyncIterator[list[tuple[float, int]]]:
    """What /readyz answers, twice a second, while the block runs."""
    samples: list[tuple[float, int]] = []

    async def sample() -> None:
        while True:
            samples.append((time.monotonic(), await asyncio.to_thread(bridge.ready_status)))
            await asyncio.sleep(0.5)  # the sampling period

    sampling = asyncio.create_task(sample())
    try:
        yield samples
    finally:
        sampling.cancel()
        await asyncio.gather(sampling, return_exceptions=True)


def lane_key(sender: Sender, lane: int) -> bytes:
    return f"{sender.prefix}-lane{lane}".encode()


def flood_for(bridge: BridgeProcess) -> Sender:
    """400 videos a second in callbacks of 50, each sent once (about 310 KB/s of records)."""
    prefix = f"flood-{uuid.uuid4().hex[:8]}"
    return Sender(bridge.url + ROUTE, prefix, rate=8, videos_per_callback=50, in_flight=8, tries=1)


def durations(attempts: list[Attempt]) -> dict[str, float]:
    seconds = sorted(a.ended - a.started for a in attempts)
    return {"median": round(seconds[len(seconds) // 2], 2), "max": round(seconds[-1], 2)}


@pytest.mark.parametrize("fault", list(NETWORK_FAULTS))
@pytest.mark.parametrize("profile", LONG_ONLY)
async def test_network_fault_between_the_bridge_and_one_broker(
    profile: Profile,
    fault: str,
    kafka_cluster: LocalCluster,
    toxiproxy: ToxiproxyServer,
    tmp_path: Path,
) -> None:
    network = NETWORK_FAULTS[fault]
    partitions = Partitions()
    recoveries: list[Recovery] = []
    windows: list[Window] = []
    floods: list[Sender] = []
    started = time.monotonic()
    log = tmp_path / "bridge.log"
    async with bridge_on(
        kafka_cluster, profile, log, env_file="bridge-proxied.env", **network.settings
    ) as (bridge, settings):
        topic = settings["topic_video_upload"]
        sender = sender_for(bridge, profile)
        async with traffic(sender), readiness(bridge) as ready:
            await sender.until_acknowledged(profile.warm_up)
            for cycle in range(profile.cycles):
                # The broker that leads a lane's partition: the order of that key is checked.
                leaders = await kafka_cluster.leaders(topic)
                node = leaders[java_partition(lane_key(sender, cycle), PARTITIONS)]
                proxy = f"kafka-{node}"
                led = frozenset(p for p, leader in leaders.items() if leader == node)
                flood = [flood_for(bridge)] if network.flood else []
                floods += flood
                accepted = toxiproxy.connections(proxy)
                applied = [await toxiproxy.api.add(proxy, toxic) for toxic in network.toxics]
                faulted = time.monotonic()
                async with traffic(*flood):
                    await asyncio.sleep(profile.outage)  # how long the fault lasts
                for toxic in applied:
                    await toxiproxy.api.remove(proxy, toxic)
                healed = time.monotonic()
                connections = toxiproxy.connections(proxy) - accepted
                windows.append(Window(node, led, faulted, healed, connections))
                # Only the bridge's way to the broker was faulted: the cluster saw nothing.
                assert await kafka_cluster.leaders(topic) == leaders
                recoveries.append(await recover_through(sender, partitions, windows[-1], profile))
        seconds = time.monotonic() - started
        replaced = bridge.metric("bridge_producer_recreations_total")
    through = [a for w in windows for a in partitions.attempts(sender, w, through=True)]
    around = [a for w in windows for a in partitions.attempts(sender, w, through=False)]
    ready_while_faulted = collections.Counter(
        status for moment, status in ready for w in windows if w.faulted < moment < w.healed
    )
    await report_of(
        kafka_cluster,
        f"cluster: {fault} to one node",
        profile,
        sender,
        topic,
        recoveries,
        seconds,
        floods=floods,
        faulted_nodes=[w.node for w in windows],
        connections_accepted_while_faulted=[w.connections for w in windows],
        answers_through_it=messages(through),
        answers_around_it=messages(around),
        seconds_through_it=durations(through),
        seconds_around_it=durations(around),
        readyz_while_faulted=dict(ready_while_faulted),
        flood_videos_acknowledged=sum(f.acknowledged_videos for f in floods),
        producer_recreations=replaced,
    )
    assert through and around
    # Two brokers of three answer: the bridge stays ready (and in a Service) throughout.
    assert set(ready_while_faulted) == {200}
    if fault == "latency":
        # Every callback that needed the slow broker waited for it.
        assert min(a.ended - a.started for a in through if a.status == 200) >= LATENCY_S
    if fault in ("black hole", "connections reset"):
        # Nothing on the broker out of reach is acknowledged, and no answer hangs: each is a
        # 503 within the produce timeout. The other brokers' partitions go on. (A connection
        # the bridge closed after its keep-alive as the sender reused it is no answer, 0.)
        assert {a.status for a in through} - {0} == {503}
        assert max(a.ended - a.started for a in through) < profile.produce_timeout + 2
        assert {a.status for a in around} - {0} == {200}
    if fault == "connections cut mid-answer":
        # Cut, the bridge connected again, more than once each time.
        assert min(w.connections for w in windows) >= 2


# -- 5. the bridge's ACL removed under load, then restored -------------------------------


@pytest.mark.parametrize("profile", PROFILES)
async def test_acl_removed_under_load_then_restored(
    profile: Profile, kafka_cluster: LocalCluster, tmp_path: Path
) -> None:
    topic = unique_topic("acl")  # not under the prefix granted to the bridge
    await kafka_cluster.grant(topic)
    recoveries: list[Recovery] = []
    windows = []
    started = time.monotonic()
    log = tmp_path / "bridge.log"
    async with bridge_on(kafka_cluster, profile, log, video_topic=topic) as (bridge, _):
        sender = sender_for(bridge, profile)
        async with traffic(sender):
            await sender.until_acknowledged(profile.warm_up)
            for _ in range(profile.cycles):
                await kafka_cluster.revoke(topic)
                revoked = time.monotonic()
                await sender.until(partial(failed_since, moment=revoked), within=60)
                denied = min(a.ended for a in sender.attempts() if a.ended >= revoked and a.status)
                await asyncio.sleep(profile.outage)  # how long the ACL stays away
                restoring = time.monotonic()
                windows.append((denied, restoring))
                await kafka_cluster.grant(topic)
                recoveries.append(await recover(sender, revoked, time.monotonic(), profile))
        seconds = time.monotonic() - started
        replaced = bridge.metric("bridge_producer_recreations_total")
    while_denied = [a for start, end in windows for a in attempts_within(sender, start, end)]
    await report_of(
        kafka_cluster,
        "cluster: the bridge's topic ACL removed",
        profile,
        sender,
        topic,
        recoveries,
        seconds,
        answers_while_denied=messages(while_denied),
        producer_recreations=replaced,
    )
    assert while_denied
    assert {attempt.status for attempt in while_denied} == {503}
    assert {a.message for a in while_denied} == {
        "Kafka refused the records: TopicAuthorizationFailedError"
    }
    line = (
        f"kafka denies Write on topic {topic} to this client: "
        "grant its principal Write and Describe on the topic"
    )
    logged = await asyncio.to_thread(bridge.log)
    assert f'"level":"error","logger":"bridge.kafka.topics","event":"{line}"' in logged


# -- 6. start-up refused: one line that says why ------------------------------------------


def openssl(*arguments: str | Path) -> str:
    result = subprocess.run(
        ["openssl", *map(str, arguments)], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def other_ca(where: Path) -> Path:
    openssl(
        "req", "-x509", "-new", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=a CA the cluster does not know", "-keyout", where / "other-ca.key",
        "-out", where / "other-ca.pem",
    )  # fmt: skip
    return where / "other-ca.pem"


def expired_client_certificate(cluster: LocalCluster, where: Path) -> tuple[Path, Path, str]:
    """A certificate for CN=bridge from the cluster's own CA, whose validity ended."""
    tls = cluster.dir / "tls"
    key, csr, cert = where / "expired.key", where / "expired.csr", where / "expired.pem"
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=bridge",
            "-keyout", key, "-out", csr)  # fmt: skip
    openssl("x509", "-req", "-in", csr, "-CA", tls / "ca.pem", "-CAkey", tls / "ca.key",
            "-days", "-1", "-out", cert)  # fmt: skip
    not_after = openssl("x509", "-in", cert, "-noout", "-enddate").removeprefix("notAfter=")
    return cert, key, not_after


def refused_start(settings: dict[str, str], log: Path) -> tuple[int, list[str]]:
    """Run `bridge serve` until it exits; its exit code and the events it logged as errors."""
    bridge = BridgeProcess(log, **settings)
    result = subprocess.run(
        [sys.executable, "-m", "bridge", "serve"],
        env=bridge.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    log.write_text(result.stderr)
    logged = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    return result.returncode, [entry["event"] for entry in logged if entry["level"] == "error"]


async def test_startup_refused_with_one_line_that_says_which(
    kafka_cluster: LocalCluster, tmp_path: Path
) -> None:
    scram = kafka_cluster.settings("bridge.env")
    mtls = kafka_cluster.settings("bridge-mtls.env")
    first = scram["kafka_bootstrap_servers"].split(",")[0]
    untrusted = await asyncio.to_thread(other_ca, tmp_path)
    cert, key, not_after = await asyncio.to_thread(
        expired_client_certificate, kafka_cluster, tmp_path
    )
    ungranted = unique_topic("ungranted")
    await kafka_cluster.create_topics(ungranted)
    granted = granted_topics()
    await kafka_cluster.create_topics(*granted.values())
    topics = {**granted, "allow_unauthenticated": "true", "startup_timeout_seconds": "30"}
    with TokenEndpoint("video-callback-bridge", "the-right-secret-0123") as endpoint:
        cases = {
            "wrong SCRAM password": (
                {**scram, "kafka_sasl_password": "not-the-password"},
                f"kafka refused the SCRAM-SHA-512 credentials of BRIDGE_KAFKA_SASL_USERNAME=bridge "
                f"at {first}: [Error 58] SaslAuthenticationFailed: Authentication failed during "
                "authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512",
            ),
            "untrusted CA": (
                {**scram, "kafka_ssl_cafile": str(untrusted)},
                f"kafka broker {first} is not trusted with BRIDGE_KAFKA_SSL_CAFILE={untrusted}: "
                "self-signed certificate in certificate chain",
            ),
            "expired client certificate": (
                {**mtls, "kafka_ssl_certfile": str(cert), "kafka_ssl_keyfile": str(key)},
                f"the client certificate BRIDGE_KAFKA_SSL_CERTFILE={cert} expired on {not_after}",
            ),
            "missing ACL": (
                {**scram, "topic_video_upload": ungranted},
                f"kafka denies Describe on topic {ungranted} to this client: grant its principal "
                "Describe and Write on the topic (or the topic does not exist)",
            ),
            "OAuth client secret refused": (
                {
                    **scram,
                    "kafka_bootstrap_servers": kafka_cluster.bootstrap("OAUTH"),
                    "kafka_sasl_mechanism": "OAUTHBEARER",
                    "kafka_sasl_oauth_token_endpoint_url": endpoint.url,
                    "kafka_sasl_oauth_client_id": "video-callback-bridge",
                    "kafka_sasl_oauth_client_secret": "a-wrong-secret-0123",
                },
                f"the OAuth token endpoint {endpoint.url} answered 401: invalid_client "
                "(bad client credentials)",
            ),
        }
        outcomes = {}
        for name, (settings, _) in cases.items():
            log = tmp_path / f"{name.replace(' ', '-')}.log"
            outcomes[name] = await asyncio.to_thread(refused_start, {**topics, **settings}, log)
    # uvicorn's own closing line follows the reason; nothing else is an error.
    assert outcomes == {
        name: (3, [line, "Application startup failed. Exiting."])
        for name, (_, line) in cases.items()
    }
