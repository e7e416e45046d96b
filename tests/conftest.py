"""Fixtures: a real Apache Kafka broker for the session, and bridges to test against it."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broker import LocalBroker
from tests.cluster import LocalCluster


def _docker_engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        probe = subprocess.run(["docker", "info"], capture_output=True, timeout=15, check=False)
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A broker's address: the one given, a container where Docker runs, else a local one."""
    given = os.environ.get("BRIDGE_TEST_KAFKA_BOOTSTRAP")
    if given:
        yield given
    elif _docker_engine_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as container:
            yield container.get_bootstrap_server()
    else:
        with LocalBroker(tmp_path_factory.mktemp("kafka")) as broker:
            yield broker.bootstrap


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
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """The three-node cluster (TLS, SASL, ACLs), started once; every node is stopped at the end."""
    cluster = LocalCluster(tmp_path_factory.mktemp("kafka-cluster"))
    try:
        cluster.up()
        cluster.grant_prefix()
        yield cluster
    finally:
        cluster.down()
