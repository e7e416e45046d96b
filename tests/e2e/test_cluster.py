"""The bridge against the three-node cluster, over each way in it offers.

SASL_SSL with SCRAM-SHA-512, mutual TLS, and SASL OAUTHBEARER (a token from
an OAuth token endpoint, or from a file): in each case `bridge serve` posts
to the real cluster, and the records are read back through the tools
listener.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cluster import LocalCluster, granted_topics
from tests.kafka_tools import read_all
from tests.oauth_server import TokenEndpoint, unsecured_jwt
from tests.samples import SAMPLE_VIDEO_IDS, VIDEO_SAMPLE, item_slices, success_answer
from tests.servers import BridgeProcess

# The first test to ask for the cluster waits for it to start (minutes on a busy machine).
pytestmark = [pytest.mark.kafka, pytest.mark.timeout(900)]

CLIENT_ID = "video-callback-bridge"
CLIENT_SECRET = "client-secret-0123456789"


def topic_settings() -> dict[str, str]:
    return granted_topics()


def oauth_settings(cluster: LocalCluster, **oauth: str) -> dict[str, str]:
    return {
        "kafka_bootstrap_servers": cluster.bootstrap("OAUTH"),
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "OAUTHBEARER",
        "kafka_ssl_cafile": str(cluster.ca_file),
        **oauth,
    }


@pytest.fixture
def token_endpoint() -> Iterator[TokenEndpoint]:
    with TokenEndpoint(CLIENT_ID, CLIENT_SECRET) as endpoint:
        yield endpoint


async def produce_the_sample(cluster: LocalCluster, log: Path, settings: dict[str, str]) -> None:
    """Post the vendor's sample through a bridge with `settings`; both videos must be stored."""
    topics = topic_settings()
    await cluster.create_topics(*topics.values())
    with BridgeProcess(log, **settings, **topics, allow_unauthenticated="true") as bridge:
        async with httpx.AsyncClient(base_url=bridge.url, timeout=30) as client:
            response = await client.post(
                "/callbacks/video-upload",
                content=VIDEO_SAMPLE,
                headers={"content-type": "application/json"},
            )
    assert (response.status_code, response.json()) == (
        200,
        success_answer(2),
    )
    records = await read_all(cluster.tools_bootstrap, topics["topic_video_upload"])
    assert sorted((record.key, record.value) for record in records) == sorted(
        zip(
            [video_id.encode() for video_id in SAMPLE_VIDEO_IDS],
            item_slices(VIDEO_SAMPLE, "videoListInfo"),
            strict=True,
        )
    )


async def test_bridge_produces_over_sasl_ssl_with_scram(
    kafka_cluster: LocalCluster, tmp_path: Path
) -> None:
    settings = kafka_cluster.settings("bridge.env")
    assert settings["kafka_security_protocol"] == "SASL_SSL"
    assert settings["kafka_sasl_mechanism"] == "SCRAM-SHA-512"
    await produce_the_sample(kafka_cluster, tmp_path / "bridge.log", settings)


async def test_bridge_produces_over_mutual_tls(kafka_cluster: LocalCluster, tmp_path: Path) -> None:
    settings = kafka_cluster.settings("bridge-mtls.env")
    assert settings["kafka_security_protocol"] == "SSL"
    assert settings["kafka_ssl_certfile"] == str(kafka_cluster.dir / "tls" / "bridge.pem")
    await produce_the_sample(kafka_cluster, tmp_path / "bridge.log", settings)


async def test_bridge_produces_over_oauthbearer_with_client_credentials(
    kafka_cluster: LocalCluster, token_endpoint: TokenEndpoint, tmp_path: Path
) -> None:
    settings = oauth_settings(
        kafka_cluster,
        kafka_sasl_oauth_token_endpoint_url=token_endpoint.url,
        kafka_sasl_oauth_client_id=CLIENT_ID,
        kafka_sasl_oauth_client_secret=CLIENT_SECRET,
        kafka_sasl_oauth_scope="kafka.produce",
    )
    await produce_the_sample(kafka_cluster, tmp_path / "bridge.log", settings)

    assert token_endpoint.refused == 0
    assert token_endpoint.grants[0] == {
        "grant_type": "client_credentials",
        "scope": "kafka.produce",
    }
    # One token serves every connection of the process while it is fresh.
    assert len(token_endpoint.grants) == 1


async def test_bridge_produces_over_oauthbearer_with_a_token_file(
    kafka_cluster: LocalCluster, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(unsecured_jwt("bridge", 3600) + "\n")
    settings = oauth_settings(kafka_cluster, kafka_sasl_oauth_token_file=str(token_file))
    await produce_the_sample(kafka_cluster, tmp_path / "bridge.log", settings)


def test_the_written_settings_name_the_cluster_and_its_ca(kafka_cluster: LocalCluster) -> None:
    scram = kafka_cluster.settings("bridge.env")
    mtls = kafka_cluster.settings("bridge-mtls.env")
    assert scram["kafka_bootstrap_servers"] == kafka_cluster.bootstrap("SASL")
    assert mtls["kafka_bootstrap_servers"] == kafka_cluster.bootstrap("MTLS")
    assert scram["kafka_sasl_username"] == "bridge"
    assert len(scram["kafka_sasl_password"]) == 32
    assert scram["kafka_ssl_cafile"] == mtls["kafka_ssl_cafile"] == str(kafka_cluster.ca_file)
    assert sorted(mtls) == [
        "kafka_bootstrap_servers",
        "kafka_security_protocol",
        "kafka_ssl_cafile",
        "kafka_ssl_certfile",
        "kafka_ssl_keyfile",
    ]
