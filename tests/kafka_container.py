"""Apache Kafka in a container (testcontainers): the image deploy/compose.yaml runs.

The broker is configured as the local one (deploy/kafka/server.properties.template), with
the network of a container: every interface inside, a free port of this machine outside.
testcontainers' own `KafkaContainer` is not used: it drives Confluent's image scripts
(/etc/confluent/docker), which apache/kafka does not have.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

from tests.ports import free_port

__all__ = ["KAFKA_IMAGE", "kafka_container", "kafka_environment"]

KAFKA_DIR = Path(__file__).resolve().parents[1] / "deploy" / "kafka"
_VERSION = re.search(r"<kafka.version>([^<]+)</kafka.version>", (KAFKA_DIR / "pom.xml").read_text())
assert _VERSION is not None, "deploy/kafka/pom.xml names no <kafka.version>"
KAFKA_IMAGE = f"apache/kafka:{_VERSION.group(1)}"

# Any 16 bytes, URL-safe base64; the image formats its log directory with it.
CLUSTER_ID = "b0Ym9zT3RmS2FmS2FUZXN0cw"
_START_TIMEOUT_S = 120


def _template_properties() -> dict[str, str]:
    properties = {}
    for line in (KAFKA_DIR / "server.properties.template").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            properties[key] = value
    return properties


def environment_name(key: str) -> str:
    """The variable the image turns into `key`: `.` is `_`, `_` is `__`, `-` is `___`."""
    return "KAFKA_" + key.upper().replace("_", "__").replace("-", "___").replace(".", "_")


def kafka_environment(host_port: int) -> dict[str, str]:
    """The KAFKA_* variables of a broker that clients reach on 127.0.0.1:`host_port`."""
    properties = {key: value for key, value in _template_properties().items() if "@" not in value}
    properties.update(
        {
            # A static quorum: the image formats without --standalone.
            "controller.quorum.voters": "1@localhost:9093",
            "listeners": "PLAINTEXT://:9092,CONTROLLER://:9093,BROKER://:9094",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{host_port},BROKER://localhost:9094",
            "listener.security.protocol.map": (
                "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,BROKER:PLAINTEXT"
            ),
            "inter.broker.listener.name": "BROKER",
            "log.dirs": "/var/lib/kafka/data",
        }
    )
    return {"CLUSTER_ID": CLUSTER_ID} | {
        environment_name(key): value for key, value in properties.items()
    }


@contextmanager
def kafka_container() -> Iterator[str]:
    """Start the broker, wait until it serves, yield its bootstrap address, remove it."""
    host_port = free_port()
    # Published on every interface: testcontainers takes a host port, not an address.
    container = DockerContainer(KAFKA_IMAGE).with_bind_ports(9092, host_port)
    for name, value in kafka_environment(host_port).items():
        container.with_env(name, value)
    # Logged once the broker is unfenced, i.e. it takes produce and fetch requests.
    container.waiting_for(
        LogMessageWaitStrategy("Kafka Server started").with_startup_timeout(_START_TIMEOUT_S)
    )
    with container:
        yield f"127.0.0.1:{host_port}"
