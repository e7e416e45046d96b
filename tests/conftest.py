"""Fixtures: a real Apache Kafka broker for the session, bridges to test against it, and the
pinned tools the chart and monitoring tests run."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.broker import LocalBroker
from tests.cluster import NODES, LocalCluster
from tests.helm_tools import HelmMissing, helm_binary
from tests.monitoring_tools import PromtoolMissing, promtool
from tests.toxiproxy import ToxiproxyServer, load_proxies


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A broker's address: the one given, else a local broker, or a container when asked.

    BRIDGE_TEST_KAFKA_BOOTSTRAP names a running broker. Otherwise BRIDGE_TEST_KAFKA picks
    what the suite starts: `local` (the default, Kafka's jars on this machine) or
    `container` (apache/kafka through testcontainers; needs a container engine). Nothing
    is guessed from the machine, so a run does the same wherever it runs.
    """
    given = os.environ.get("BRIDGE_TEST_KAFKA_BOOTSTRAP")
    kind = os.environ.get("BRIDGE_TEST_KAFKA", "local")
    if given:
        yield given
    elif kind == "local":
        with LocalBroker(tmp_path_factory.mktemp("kafka")) as broker:
            yield broker.bootstrap
    elif kind == "container":
        from tests.kafka_container import kafka_container

        with kafka_container() as bootstrap:
            yield bootstrap
    else:
        pytest.fail(f"BRIDGE_TEST_KAFKA must be local or container, not {kind!r}", pytrace=False)


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalBroker]:
    """A broker for this test alone, which it may stop, kill or freeze."""
    broker = LocalBroker(tmp_path / "kafka")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
async def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalCluster]:
    """The three-node cluster (TLS, SASL, ACLs), started once.

    At the end its nodes are killed, not stopped: their data goes with the session's
    temporary directory, and three nodes stopping together wait for each other (10 s or more).
    """
    cluster = LocalCluster(tmp_path_factory.mktemp("kafka-cluster"))
    try:
        await asyncio.to_thread(cluster.up)
        await cluster.grant_prefix()
        yield cluster
    finally:
        for node in NODES:
            await asyncio.to_thread(cluster.kill, node)


@pytest.fixture(scope="session")
def toxiproxy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ToxiproxyServer]:
    with ToxiproxyServer(tmp_path_factory.mktemp("toxiproxy") / "toxiproxy.log") as server:
        yield server


@pytest.fixture
async def toxiproxy(
    toxiproxy_server: ToxiproxyServer, kafka_cluster: LocalCluster
) -> AsyncIterator[ToxiproxyServer]:
    """Toxiproxy in front of each node of the cluster (the way of `bridge-proxied.env`),
    with no toxic when the test starts and none left after it."""
    api = toxiproxy_server.api
    await api.populate(load_proxies(kafka_cluster.toxiproxy_config))
    await api.reset()
    try:
        yield toxiproxy_server
    finally:
        await api.reset()


@pytest.fixture(scope="session")
def helm_installed() -> None:
    """Fails each test that needs helm in one line saying how to build it, when it is missing."""
    try:
        helm_binary()
    except HelmMissing as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def promtool_installed() -> None:
    """As helm_installed, for promtool."""
    try:
        promtool("--version")
    except PromtoolMissing as error:
        pytest.fail(str(error), pytrace=False)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Marks what runs on the suite's shared broker, so that `make container-test` can run
    # exactly those again on a container; a test with a broker of its own has nothing to
    # repeat there.
    for item in items:
        if "kafka_bootstrap" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.shared_broker)
