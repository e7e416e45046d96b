"""The chart on a whole single-node cluster, under a stream of callbacks through its Service.

`make cluster-test` runs this module as root (it changes iptables and kernel
parameters, and puts them back); `make test` leaves it out (marker
`kubernetes`). The scenarios run in order on one release, each with its own
sender, and each is audited against the topic: every callback answered 200 is
in Kafka. Their figures are printed and, with `CLUSTER_REPORT_DIR`, written
there as JSON (docs/reliability.md quotes them).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bridge import __version__
from bridge.kinds import KINDS
from tests.broker import KAFKA_SH, LocalBroker
from tests.deploy.kubernetes.kube import Kube
from tests.deploy.kubernetes.node import NODE_IP, NODE_NAME, Node
from tests.helm_tools import CHART, FULLNAME, RELEASE
from tests.kafka_tools import create_topics, unique_topic
from tests.reliability.ledger import Audit, audit
from tests.reliability.sender import Sender
from tests.reliability.test_faults import traffic

pytestmark = [pytest.mark.kubernetes, pytest.mark.timeout(900)]

IMAGE = f"localhost/video-callback-bridge:{__version__}"  # as `make image` tags it
NAMESPACE = "bridge"
TOKEN = "cluster-token-0123456789abcdef"
RATE = 40  # callbacks per second, 2 videos each
WARM_UP = 100  # videos acknowledged before a fault
AFTER = 100  # videos acknowledged after it
REPORT_DIR = "CLUSTER_REPORT_DIR"


@dataclass
class Figures:
    scenario: str
    seconds: float
    callbacks: int
    attempts: int
    answered_200: int
    answered_503: int
    connection_failures: int
    other_statuses: dict[str, int]
    acknowledged: int
    records: int
    lost: int
    duplicates: int
    notes: dict[str, Any] = field(default_factory=dict)


FIGURES: list[Figures] = []


def pod_listener_port() -> int:
    with socket.socket() as sock:
        sock.bind((NODE_IP, 0))
        port: int = sock.getsockname()[1]
        return port


def broker_template(directory: Path, pod_port: int) -> Path:
    """kafka.sh's template with a second listener on the pod network's bridge."""
    text = (KAFKA_SH.parent / "server.properties.template").read_text()
    pod = f"POD://{NODE_IP}:{pod_port}"
    text = text.replace(
        "listeners=PLAINTEXT://127.0.0.1:@PORT@,", f"listeners=PLAINTEXT://127.0.0.1:@PORT@,{pod},"
    ).replace(
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,POD:PLAINTEXT,",
    )
    assert text.count(pod) == 2, "the template's listeners changed: update broker_template"
    path = directory / "server.properties.template"
    path.write_text(text)
    return path


@dataclass
class Cluster:
    node: Node
    broker: LocalBroker
    pod_bootstrap: str
    topic: str
    url: str  # the Service's NodePort on 127.0.0.1, callback route and token included
    # Every scenario's sender: the topic is shared, so each audit knows all that was sent.
    senders: list[Sender] = field(default_factory=list)

    @property
    def kube(self) -> Kube:
        return self.node.kube

    def helm(self, *args: str) -> str:
        return self.kube.helm(*args, "--namespace", NAMESPACE).stdout

    def pods(self) -> list[dict[str, Any]]:
        done = self.kube.kubectl(
            "get", "pods", "--namespace", NAMESPACE, "--output=json",
            "--selector=app.kubernetes.io/name=video-callback-bridge,"
            "app.kubernetes.io/component!=helm-test",
        )  # fmt: skip
        items: list[dict[str, Any]] = json.loads(done.stdout)["items"]
        return [p for p in items if not p["metadata"].get("deletionTimestamp")]

    def ready(self) -> list[bool]:
        def is_ready(pod: dict[str, Any]) -> bool:
            conditions = pod.get("status", {}).get("conditions", [])
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

        return [is_ready(pod) for pod in self.pods()]

    async def until(self, condition: str, check: Any, within: float = 180) -> float:
        """Seconds until `check(self)` holds, polling the API server."""
        started = time.monotonic()
        while not await asyncio.to_thread(check, self):
            if time.monotonic() - started > within:
                raise AssertionError(f"not {condition} within {within} s: {self.ready()}")
            await asyncio.sleep(0.25)  # polling another process
        return time.monotonic() - started


def all_ready(count: int) -> Any:
    return lambda cluster: cluster.ready() == [True] * count


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    state = tmp_path_factory.mktemp("cluster")
    with Node(state / "node") as node:
        image = subprocess.run(
            ["podman", "save", "--format=docker-archive", IMAGE], capture_output=True, check=True
        )
        node.import_image(image.stdout)
        pod_port = pod_listener_port()
        broker = LocalBroker(state / "kafka", template=broker_template(state, pod_port))
        broker.start()
        try:
            # A topic of its own for every kind, and the dead letters: the bridge checks them all.
            topics = {kind.topic_setting: unique_topic(kind.name) for kind in KINDS}
            topics["topic_dlq"] = unique_topic("dlq")
            asyncio.run(create_topics(broker.bootstrap, *topics.values(), partitions=3))
            topic = topics["topic_video_upload"]
            cluster = Cluster(node, broker, f"{NODE_IP}:{pod_port}", topic, "")
            node.kube.create_namespace(NAMESPACE)
            cluster.helm(
                "install", RELEASE, str(CHART), "--wait", "--timeout=180s",
                "--set", f"image.repository={IMAGE.rsplit(':', 1)[0]}",
                "--set", f"image.tag={__version__}",
                "--set", "image.pullPolicy=Never",
                "--set", "replicaCount=2",
                "--set", "service.type=NodePort",
                "--set", f"config.kafka_bootstrap_servers={cluster.pod_bootstrap}",
                *(f"--set=config.{setting}={name}" for setting, name in topics.items()),
                "--set", "config.retry_after_seconds=1",
                "--set", "config.produce_timeout_seconds=3",
                "--set-json", f'secrets.auth_tokens=["{TOKEN}"]',
            )  # fmt: skip
            service = node.kube.get("service", FULLNAME, NAMESPACE)
            assert service is not None
            node_port = service["spec"]["ports"][0]["nodePort"]
            cluster.url = f"http://127.0.0.1:{node_port}/callbacks/video-upload/{TOKEN}"
            yield cluster
        finally:
            broker.stop()
            write_figures()


def write_figures() -> None:
    for figures in FIGURES:
        print(json.dumps(asdict(figures)))
    where = os.environ.get(REPORT_DIR)
    if where and FIGURES:
        Path(where).mkdir(parents=True, exist_ok=True)
        (Path(where) / "cluster.json").write_text(
            json.dumps([asdict(f) for f in FIGURES], indent=2) + "\n"
        )


def new_sender(cluster: Cluster) -> Sender:
    sender = Sender(cluster.url, f"k8s-{uuid.uuid4().hex[:8]}", rate=RATE, tries=5)
    cluster.senders.append(sender)
    return sender


async def audited(
    cluster: Cluster, scenario: str, sender: Sender, seconds: float, **notes: Any
) -> tuple[Figures, Audit]:
    result = await audit(cluster.broker.bootstrap, cluster.topic, *cluster.senders)
    statuses = dict(sender.statuses())
    figures = Figures(
        scenario=scenario,
        seconds=round(seconds, 1),
        callbacks=len(sender.callbacks),
        attempts=sum(statuses.values()),
        answered_200=statuses.pop(200, 0),
        answered_503=statuses.pop(503, 0),
        connection_failures=statuses.pop(0, 0),
        other_statuses={str(k): v for k, v in statuses.items()},
        acknowledged=sender.acknowledged_videos,
        records=result.records,
        lost=len(result.lost),
        duplicates=result.duplicates,
        notes=notes,
    )
    FIGURES.append(figures)
    print(json.dumps(asdict(figures)))
    return figures, result


def assert_nothing_lost(figures: Figures, result: Audit) -> None:
    assert result.lost == []
    assert figures.other_statuses == {}  # no 5xx but 503, no 4xx
    assert result.strangers == 0
    assert result.bad_headers == 0
    assert figures.acknowledged > 0


async def test_helm_test_passes_under_load(cluster: Cluster) -> None:
    sender = new_sender(cluster)
    started = time.monotonic()
    async with traffic(sender):
        await sender.until_acknowledged(WARM_UP)
        output = await asyncio.to_thread(cluster.helm, "test", RELEASE, "--timeout=120s")
        await sender.until_acknowledged(sender.acknowledged_videos + AFTER)
    assert f"TEST SUITE:     {FULLNAME}-test-connection" in output
    assert "Phase:          Succeeded" in output
    figures, result = await audited(cluster, "helm test", sender, time.monotonic() - started)
    assert_nothing_lost(figures, result)


async def test_rolling_upgrade_of_two_replicas_loses_nothing(cluster: Cluster) -> None:
    before = {pod["metadata"]["uid"] for pod in cluster.pods()}
    sender = new_sender(cluster)
    started = time.monotonic()
    async with traffic(sender):
        await sender.until_acknowledged(WARM_UP)
        rolled = time.monotonic()
        await asyncio.to_thread(
            cluster.helm, "upgrade", RELEASE, str(CHART), "--reuse-values", "--wait",
            "--timeout=180s", "--set", "config.log_level=debug",
        )  # fmt: skip
        rollout = time.monotonic() - rolled
        await sender.until_acknowledged(sender.acknowledged_videos + AFTER)
    after = {pod["metadata"]["uid"] for pod in cluster.pods()}
    assert len(after) == 2 and not before & after, "every pod was replaced"
    figures, result = await audited(
        cluster, "rolling upgrade, 2 replicas", sender, time.monotonic() - started,
        rollout_seconds=round(rollout, 1),
    )  # fmt: skip
    assert_nothing_lost(figures, result)
    assert figures.connection_failures == 0


async def test_pod_deleted_and_container_killed_under_load(cluster: Cluster) -> None:
    sender = new_sender(cluster)
    started = time.monotonic()
    async with traffic(sender):
        await sender.until_acknowledged(WARM_UP)
        first, second = cluster.pods()
        await asyncio.to_thread(
            cluster.kube.kubectl, "delete", "pod", first["metadata"]["name"], "-n", NAMESPACE
        )
        replaced = await cluster.until("replaced", all_ready(2))
        await sender.until_acknowledged(sender.acknowledged_videos + AFTER)
        container = second["status"]["containerStatuses"][0]
        restarts = container["restartCount"]
        await asyncio.to_thread(
            cluster.node.ctr, "tasks", "kill", "--signal=SIGKILL",
            container["containerID"].removeprefix("containerd://"),
        )  # fmt: skip
        killed = time.monotonic()

        def restarted(c: Cluster) -> bool:
            pods = {p["metadata"]["name"]: p for p in c.pods()}
            pod = pods.get(second["metadata"]["name"])
            statuses = (pod or {}).get("status", {}).get("containerStatuses", [{}])
            return statuses[0].get("restartCount", 0) > restarts and c.ready() == [True, True]

        back = await cluster.until("restarted", restarted)
        answered_meanwhile = sum(
            1 for a in sender.attempts() if a.status == 200 and a.ended > killed
        )
        await sender.until_acknowledged(sender.acknowledged_videos + AFTER)
    figures, result = await audited(
        cluster, "pod deleted, container SIGKILLed", sender, time.monotonic() - started,
        replaced_seconds=round(replaced, 1), killed_back_seconds=round(back, 1),
    )  # fmt: skip
    assert_nothing_lost(figures, result)
    assert answered_meanwhile > 0, "the Service answered while a container was down"


async def test_broker_stopped_pods_turn_not_ready_and_back(cluster: Cluster) -> None:
    restarts = [p["status"]["containerStatuses"][0]["restartCount"] for p in cluster.pods()]
    sender = new_sender(cluster)
    started = time.monotonic()
    async with traffic(sender):
        await sender.until_acknowledged(WARM_UP)
        await asyncio.to_thread(cluster.broker.stop)
        stopped = time.monotonic()
        not_ready = await cluster.until("not ready", _none_ready)
        await asyncio.to_thread(cluster.broker.start)
        returned = time.monotonic()
        ready = await cluster.until("ready again", all_ready(2))
        await sender.until_acknowledged(sender.acknowledged_videos + AFTER)
    after = [p["status"]["containerStatuses"][0]["restartCount"] for p in cluster.pods()]
    outage = [a for a in sender.attempts() if stopped <= a.started < returned]
    figures, result = await audited(
        cluster, "broker stopped and started", sender, time.monotonic() - started,
        not_ready_seconds=round(not_ready, 1), ready_again_seconds=round(ready, 1),
        outage_statuses={str(s): n for s, n in Counter(a.status for a in outage).items()},
        longest_outage_answer_seconds=round(max(a.ended - a.started for a in outage), 2),
        broker_down_seconds=round(returned - stopped, 1),
    )  # fmt: skip
    assert_nothing_lost(figures, result)
    assert after == restarts, "ready again without a restart"
    assert {a.status for a in outage} <= {200, 503, 0}
    assert 503 in {a.status for a in outage}
    assert not [a for a in outage if "Timeout" in a.message], "no answer hung"


def _none_ready(cluster: Cluster) -> bool:
    return not any(cluster.ready())


async def test_drain_honours_the_disruption_budget(cluster: Cluster) -> None:
    await asyncio.to_thread(
        cluster.helm, "upgrade", RELEASE, str(CHART), "--reuse-values", "--wait",
        "--timeout=180s", "--set", "podDisruptionBudget.enabled=true",
        "--set", "podDisruptionBudget.minAvailable=1",
    )  # fmt: skip
    sender = new_sender(cluster)
    started = time.monotonic()
    async with traffic(sender):
        await sender.until_acknowledged(WARM_UP)
        drain = await asyncio.to_thread(
            cluster.kube.kubectl,
            "drain", NODE_NAME, "--ignore-daemonsets", "--delete-emptydir-data",
            "--timeout=40s", check=False,
        )  # fmt: skip
        during = cluster.ready()
        await sender.until_acknowledged(sender.acknowledged_videos + AFTER)
        await asyncio.to_thread(cluster.kube.kubectl, "uncordon", NODE_NAME)
        await cluster.until("ready again", all_ready(2))
    figures, result = await audited(
        cluster, "drain with a PodDisruptionBudget", sender, time.monotonic() - started,
        ready_during_drain=sum(during),
    )  # fmt: skip
    assert "Cannot evict pod as it would violate the pod's disruption budget" in drain.stderr
    assert during.count(True) >= 1, "the budget kept a pod serving"
    assert_nothing_lost(figures, result)
