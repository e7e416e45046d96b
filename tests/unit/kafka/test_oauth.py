"""OAUTHBEARER token providers, against the stand-in token endpoint and real files."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.kafka.oauth import (
    ClientCredentialsTokenProvider,
    TokenError,
    TokenFileProvider,
    token_provider,
)
from bridge.settings import SettingsError, load_settings
from tests.oauth_server import TokenEndpoint


@pytest.fixture
def endpoint() -> Iterator[TokenEndpoint]:
    with TokenEndpoint("the-client", "the secret & more") as server:
        yield server


def claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return decoded


async def test_client_credentials_token_is_fetched_once_while_fresh(
    endpoint: TokenEndpoint,
) -> None:
    provider = ClientCredentialsTokenProvider(
        endpoint.url, "the-client", "the secret & more", "a b"
    )

    first = await provider.token()
    second = await provider.token()

    assert first == second
    assert claims(first)["sub"] == "bridge"
    assert endpoint.grants == [{"grant_type": "client_credentials", "scope": "a b"}]


async def test_client_credentials_token_is_renewed_after_most_of_its_lifetime(
    endpoint: TokenEndpoint,
) -> None:
    endpoint.lifetime = 0  # expired as soon as issued: each connection needs a new one
    provider = ClientCredentialsTokenProvider(endpoint.url, "the-client", "the secret & more")

    await provider.token()
    await provider.token()

    assert endpoint.grants == [{"grant_type": "client_credentials"}] * 2


async def test_refused_client_credentials_say_what_the_endpoint_answered(
    endpoint: TokenEndpoint,
) -> None:
    provider = ClientCredentialsTokenProvider(endpoint.url, "the-client", "wrong")

    with pytest.raises(TokenError) as raised:
        await provider.token()

    assert raised.value.args[0] == (
        f"the OAuth token endpoint {endpoint.url} answered 401: "
        "invalid_client (bad client credentials)"
    )
    assert endpoint.refused == 1


async def test_unreachable_endpoint_is_a_token_error() -> None:
    provider = ClientCredentialsTokenProvider("http://127.0.0.1:9/token", "c", "s")

    with pytest.raises(TokenError, match=r"^no token from the OAuth token endpoint http://127"):
        await provider.token()


async def test_token_file_is_read_again_for_every_connection(tmp_path: Path) -> None:
    path = tmp_path / "token"
    provider = TokenFileProvider(str(path))

    await asyncio.to_thread(path.write_text, "first.token.\n")
    first = await provider.token()
    await asyncio.to_thread(path.write_text, "second.token.")
    second = await provider.token()

    assert (first, second) == ("first.token.", "second.token.")


async def test_missing_or_empty_token_file_is_a_token_error(tmp_path: Path) -> None:
    with pytest.raises(TokenError, match=r"^cannot read the OAuth token file .*missing"):
        await TokenFileProvider(str(tmp_path / "missing")).token()
    await asyncio.to_thread((tmp_path / "empty").write_text, " \n")
    with pytest.raises(TokenError) as raised:
        await TokenFileProvider(str(tmp_path / "empty")).token()
    assert raised.value.args[0] == f"the OAuth token file {tmp_path / 'empty'} is empty"


def test_the_settings_choose_the_provider_and_share_it(tmp_path: Path) -> None:
    by_file = load_settings(
        {"BRIDGE_KAFKA_SASL_MECHANISM": "OAUTHBEARER", "BRIDGE_KAFKA_SASL_OAUTH_TOKEN_FILE": "/t"}
    )
    by_endpoint = load_settings(
        {
            "BRIDGE_KAFKA_SASL_MECHANISM": "OAUTHBEARER",
            "BRIDGE_KAFKA_SASL_OAUTH_TOKEN_ENDPOINT_URL": "https://idp.example/token",
            "BRIDGE_KAFKA_SASL_OAUTH_CLIENT_ID": "c",
        }
    )

    assert isinstance(token_provider(by_file), TokenFileProvider)
    assert isinstance(token_provider(by_endpoint), ClientCredentialsTokenProvider)
    assert token_provider(by_endpoint) is token_provider(by_endpoint)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {},
            "invalid settings: BRIDGE_KAFKA_SASL_MECHANISM=OAUTHBEARER needs exactly one of "
            "BRIDGE_KAFKA_SASL_OAUTH_TOKEN_ENDPOINT_URL and BRIDGE_KAFKA_SASL_OAUTH_TOKEN_FILE",
        ),
        (
            {
                "BRIDGE_KAFKA_SASL_OAUTH_TOKEN_ENDPOINT_URL": "https://idp.example/token",
                "BRIDGE_KAFKA_SASL_OAUTH_TOKEN_FILE": "/t",
            },
            "invalid settings: BRIDGE_KAFKA_SASL_MECHANISM=OAUTHBEARER needs exactly one of "
            "BRIDGE_KAFKA_SASL_OAUTH_TOKEN_ENDPOINT_URL and BRIDGE_KAFKA_SASL_OAUTH_TOKEN_FILE",
        ),
        (
            {"BRIDGE_KAFKA_SASL_OAUTH_TOKEN_ENDPOINT_URL": "idp.example/token"},
            "invalid settings: BRIDGE_KAFKA_SASL_OAUTH_TOKEN_ENDPOINT_URL='idp.example/token' is "
            "invalid: expected an http(s) URL",
        ),
        (
            {"BRIDGE_KAFKA_SASL_OAUTH_TOKEN_ENDPOINT_URL": "https://idp.example/token"},
            "invalid settings: BRIDGE_KAFKA_SASL_OAUTH_TOKEN_ENDPOINT_URL needs "
            "BRIDGE_KAFKA_SASL_OAUTH_CLIENT_ID",
        ),
    ],
)
def test_oauthbearer_misconfiguration_stops_start_up_with_one_line(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"BRIDGE_KAFKA_SASL_MECHANISM": "OAUTHBEARER", **environ})

    assert str(raised.value) == message
