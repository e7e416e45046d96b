"""How every Kafka client of the bridge connects: the producer, the admin client, the tools."""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka.helpers import create_ssl_context

from bridge.kafka.oauth import token_provider
from bridge.settings import Settings


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection options shared by the producer, the admin client and the tools' consumers."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "client_id": settings.kafka_client_id,
        "request_timeout_ms": settings.kafka_request_timeout_ms,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = _ssl_context(settings)
    if settings.kafka_security_protocol.startswith("SASL_"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password
    if settings.kafka_sasl_mechanism == "OAUTHBEARER":
        options["sasl_oauth_token_provider"] = token_provider(settings)
    return options


def _ssl_context(settings: Settings) -> ssl.SSLContext:
    context: ssl.SSLContext = create_ssl_context(
        cafile=settings.kafka_ssl_cafile or None,
        certfile=settings.kafka_ssl_certfile or None,
        keyfile=settings.kafka_ssl_keyfile or None,
        password=settings.kafka_ssl_key_password or None,
    )
    return context


def producer_options(settings: Settings) -> dict[str, Any]:
    """The idempotent producer's: every record acknowledged by all in-sync replicas."""
    compression = settings.kafka_compression
    return {
        **client_options(settings),
        "acks": "all",
        "enable_idempotence": True,
        "compression_type": None if compression == "none" else compression,
        "linger_ms": settings.kafka_linger_ms,
        "max_batch_size": settings.kafka_max_batch_bytes,
        "max_request_size": settings.kafka_max_request_bytes,
    }
