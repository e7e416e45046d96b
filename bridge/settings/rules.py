"""Rules between settings, checked whenever a `Settings` is made."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge.settings.types import PREFIX

if TYPE_CHECKING:
    from bridge.settings.model import Settings


def check_oauth(settings: Settings) -> None:
    endpoint = settings.kafka_sasl_oauth_token_endpoint_url
    token_file = settings.kafka_sasl_oauth_token_file
    if bool(endpoint) == bool(token_file):
        raise ValueError(
            f"{PREFIX}KAFKA_SASL_MECHANISM=OAUTHBEARER needs exactly one of "
            f"{PREFIX}KAFKA_SASL_OAUTH_TOKEN_ENDPOINT_URL and {PREFIX}KAFKA_SASL_OAUTH_TOKEN_FILE"
        )
    if endpoint and not endpoint.startswith(("https://", "http://")):
        raise ValueError(
            f"{PREFIX}KAFKA_SASL_OAUTH_TOKEN_ENDPOINT_URL={endpoint!r} is invalid: "
            "expected an http(s) URL"
        )
    if endpoint and not settings.kafka_sasl_oauth_client_id:
        raise ValueError(
            f"{PREFIX}KAFKA_SASL_OAUTH_TOKEN_ENDPOINT_URL needs {PREFIX}KAFKA_SASL_OAUTH_CLIENT_ID"
        )
