"""The local three-node cluster for tests, driven through deploy/kafka/cluster.sh.

A :class:`LocalCluster` owns a cluster dir and twenty-one ports (six
listeners on each of three nodes, and the proxies in front of the proxied
one), all below the ephemeral range, so that a node that is killed or stopped
comes back on its own address (see tests/ports.py). The test tools
reach it over the plaintext listener (`tools_bootstrap`); the bridge over
SASL_SSL, mutual TLS or OAUTHBEARER with the settings that `cluster.sh up`
writes, or over SASL_SSL through Toxiproxy (`bridge-proxied.env`, with the
proxies of `toxiproxy.json`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.protocol.admin import CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest
from aiokafka.protocol.api import Request
from aiokafka.protocol.metadata import MetadataRequest

from bridge.kinds import KINDS
from tests.broker import KAFKA_SH
from tests.kafka_tools import unique_topic
from tests.ports import free_port
from tests.running import kill_and_wait, run_script

__all__ = ["CLUSTER_SH", "GRANTED_PREFIX", "LISTENERS", "LocalCluster", "NODES", "granted_topic"]

CLUSTER_SH = KAFKA_SH.with_name("cluster.sh")
NODES = (1, 2, 3)
# PROXY is not a listener but the proxies in front of PROXIED, where its brokers say they are.
LISTENERS = ("SASL", "MTLS", "OAUTH", "TOOLS", "CONTROLLER", "PROXIED", "PROXY")
BRIDGE_PRINCIPAL = "User:bridge"
# Kafka's codes for ACL bindings (org.apache.kafka.common.acl, .resource).
RESOURCE_TOPIC = 2
PATTERN_LITERAL, PATTERN_PREFIXED = 3, 4
OPERATION_ANY, OPERATION_WRITE, OPERATION_DESCRIBE = 1, 4, 8
PERMISSION_ANY, ALLOW = 1, 3
# How long a node may take to apply what the controller committed.
APPLIED_TIMEOUT = 60.0
# Topics under this prefix are granted to the bridge once per test session (cluster.grant_prefix).
GRANTED_PREFIX = "test.granted."


class LocalCluster:
    def __init__(self, cluster_dir: Path) -> None:
        self.dir = Path(cluster_dir).resolve()
        taken: set[int] = set()
        self.ports: dict[str, list[int]] = {}
        for listener in LISTENERS:
            ports: list[int] = []
            while len(ports) < len(NODES):
                port = free_port()
                if port not in taken:
                    taken.add(port)
                    ports.append(port)
            self.ports[listener] = ports

    def __repr__(self) -> str:
        return f"LocalCluster({self.tools_bootstrap}, dir={str(self.dir)!r})"

    def bootstrap(self, listener: str) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self.ports[listener])

    @property
    def tools_bootstrap(self) -> str:
        return self.bootstrap("TOOLS")

    # -- lifecycle ---------------------------------------------------------

    def _run(self, *arguments: str, timeout: float = 300) -> str:
        env = {"KAFKA_CLUSTER_DIR": str(self.dir), "KAFKA_STOP_TIMEOUT": "15"}
        for listener, ports in self.ports.items():
            env[f"KAFKA_CLUSTER_{listener}_PORTS"] = ",".join(map(str, ports))
        return run_script(CLUSTER_SH, *arguments, env=env, who=self, timeout=timeout)

    def up(self) -> str:
        """Start every node that is not running; return once all are in sync."""
        return self._run("up")

    def down(self) -> None:
        self._run("down")

    def stop(self, node: int) -> None:
        """Stop one node gracefully (SIGTERM); `up` brings it back."""
        self._run("stop", str(node))

    def pid(self, node: int) -> int | None:
        try:
            return int((self.dir / f"node-{node}" / "kafka.pid").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def kill(self, node: int) -> None:
        """SIGKILL one node and wait until it is gone."""
        pid = self.pid(node)
        if pid is None:
            return
        kill_and_wait(pid, f"{self!r}: node {node} (pid {pid})")

    def settings(self, env_file: str) -> dict[str, str]:
        """A written env file (bridge.env, bridge-mtls.env, bridge-proxied.env) as settings
        without the prefix."""
        settings = {}
        for line in (self.dir / env_file).read_text().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.partition("=")
                settings[name.removeprefix("BRIDGE_").lower()] = value
        return settings

    @property
    def ca_file(self) -> Path:
        return self.dir / "tls" / "ca.pem"

    @property
    def toxiproxy_config(self) -> Path:
        """Toxiproxy's proxies, one per node: `kafka-<node>`, listening where it advertises."""
        return self.dir / "toxiproxy.json"

    # -- topics and ACLs, through the tools listener ----------------------------

    async def create_topics(self, *names: str, partitions: int = 6) -> None:
        """Create the topics; return once every node knows each of their partitions' leader."""
        async with self._admin() as admin:
            await admin.create_topics([NewTopic(name, partitions, 3) for name in names])

        def led(answer: dict[str, Any]) -> bool:
            return len(answer["topics"]) == len(names) and all(
                topic["error_code"] == 0
                and len(topic["partitions"]) == partitions
                and all(partition["leader"] >= 0 for partition in topic["partitions"])
                for topic in answer["topics"]
            )

        request = MetadataRequest(list(names), allow_auto_topic_creation=False)
        await self._on_every_node(request, led, f"topics {', '.join(names)} with leaders")

    async def grant(self, topic: str, *, prefixed: bool = False) -> None:
        """Let the bridge describe and write this topic (or every topic with this prefix)."""
        pattern = PATTERN_PREFIXED if prefixed else PATTERN_LITERAL
        await self._acls(CreateAclsRequest, topic, pattern, "creation_responses")
        await self._bridge_acls_on_every_node(topic, pattern, {OPERATION_WRITE, OPERATION_DESCRIBE})

    async def revoke(self, topic: str) -> None:
        await self._acls(DeleteAclsRequest, topic, PATTERN_LITERAL, "filter_responses")
        await self._bridge_acls_on_every_node(topic, PATTERN_LITERAL, set())

    async def grant_prefix(self) -> None:
        await self.grant(GRANTED_PREFIX, prefixed=True)

    async def _acls(
        self,
        request: type[CreateAclsRequest | DeleteAclsRequest],
        topic: str,
        pattern: int,
        answers: str,
    ) -> None:
        """The bridge's Write and Describe on a topic, through the admin API (as AclCommand
        does, without a JVM to start): the call returns once the controller committed it."""
        async with self._admin() as admin:
            for operation in (OPERATION_WRITE, OPERATION_DESCRIBE):
                acl = request(
                    RESOURCE_TOPIC, topic, pattern, BRIDGE_PRINCIPAL, "*", operation, ALLOW
                )
                response = (await admin._send_request(acl)).to_object()
                errors = [a for a in response[answers] if a["error_code"]]
                if errors:
                    raise RuntimeError(f"{request.__name__} for {topic} failed: {errors}")

    async def _bridge_acls_on_every_node(
        self, topic: str, pattern: int, operations: set[int]
    ) -> None:
        """Wait until each node's authorizer allows the bridge exactly `operations` on `topic`."""
        request = DescribeAclsRequest(
            RESOURCE_TOPIC, topic, pattern, BRIDGE_PRINCIPAL, "*", OPERATION_ANY, PERMISSION_ANY
        )

        def allowed(answer: dict[str, Any]) -> bool:
            found = {acl["operation"] for r in answer["resources"] for acl in r["acls"]}
            return answer["error_code"] == 0 and found == operations

        await self._on_every_node(request, allowed, f"the bridge's ACLs on {topic}")

    async def _on_every_node(
        self, request: Request, holds: Callable[[dict[str, Any]], bool], what: str
    ) -> None:
        """Ask each node until its answer `holds`. The controller commits a change at once;
        a node applies it when its copy of the metadata log catches up, and until then it
        answers (and authorizes) as before the change, with no event to await."""
        async with self._admin() as admin:
            for broker in admin._client.cluster.brokers():
                node = broker.nodeId
                try:
                    async with asyncio.timeout(APPLIED_TIMEOUT):
                        while not holds(await _ask(admin, request, node)):  # noqa: ASYNC110
                            await asyncio.sleep(0.05)
                except TimeoutError:
                    raise TimeoutError(
                        f"{self!r}: node {node} has not applied {what} "
                        f"after {APPLIED_TIMEOUT:.0f} s"
                    ) from None

    @asynccontextmanager
    async def _admin(self) -> AsyncIterator[AIOKafkaAdminClient]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.tools_bootstrap)
        await admin.start()
        try:
            yield admin
        finally:
            await admin.close()

    async def leaders(self, topic: str) -> dict[int, int]:
        """Partition -> the node that leads it now."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.tools_bootstrap)
        await consumer.start()
        try:
            await consumer._client.force_metadata_update()
            cluster = consumer._client.cluster
            return {
                partition: cluster.leader_for_partition(TopicPartition(topic, partition))
                for partition in cluster.partitions_for_topic(topic) or ()
            }
        finally:
            await consumer.stop()


async def _ask(admin: AIOKafkaAdminClient, request: Request, node: int) -> dict[str, Any]:
    answer: dict[str, Any] = (await admin._send_request(request, node)).to_object()
    return answer


def granted_topic(purpose: str) -> str:
    """A topic name the bridge may write on the test cluster."""
    return GRANTED_PREFIX + unique_topic(purpose).removeprefix("test.")


def granted_topics(**given: str) -> dict[str, str]:
    """A topic setting for every kind and the dead letters, each granted (or as `given`)."""
    topics = {kind.topic_setting: granted_topic(kind.name) for kind in KINDS}
    topics["topic_dlq"] = granted_topic("dlq")
    return {**topics, **given}
