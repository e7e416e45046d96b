"""Why the brokers will not take this client, in one line an operator can act on.

aiokafka reports every failed bootstrap as "Unable to bootstrap", whatever the
cause. A wrong password, an untrusted CA or an expired client certificate
needs an operator, not a retry, so at start-up the bridge asks one
connection per broker why, and stops with that reason.
"""

from __future__ import annotations

import ssl
import time
from typing import Any

from aiokafka.conn import create_conn
from aiokafka.errors import (
    IllegalSaslStateError,
    KafkaConnectionError,
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)

from bridge.kafka.oauth import TokenError
from bridge.settings import Settings


def certificate_problem(certfile: str, now: float | None = None) -> str | None:
    """The client certificate's validity against the clock, before any broker is asked.

    A broker that refuses an expired certificate only closes the connection,
    which tells the client nothing.
    """
    if not certfile:
        return None
    try:
        # The standard library's own decoder (no third-party X.509 parser needed).
        decoded: dict[str, Any] = ssl._ssl._test_decode_cert(certfile)  # type: ignore[attr-defined]
    except (OSError, ssl.SSLError) as error:
        return f"BRIDGE_KAFKA_SSL_CERTFILE={certfile} cannot be read as a certificate: {error}"
    moment = time.time() if now is None else now
    not_after = ssl.cert_time_to_seconds(decoded["notAfter"])
    not_before = ssl.cert_time_to_seconds(decoded["notBefore"])
    if moment >= not_after:
        return (
            f"the client certificate BRIDGE_KAFKA_SSL_CERTFILE={certfile} expired on "
            f"{decoded['notAfter']}"
        )
    if moment < not_before:
        return (
            f"the client certificate BRIDGE_KAFKA_SSL_CERTFILE={certfile} is not valid before "
            f"{decoded['notBefore']}"
        )
    return None


async def refusal(settings: Settings, options: dict[str, Any]) -> str | None:
    """The reason the brokers refuse this client, or None when none refused it.

    None also when no broker answers at all: that is an outage, which the
    bridge rides out by retrying.
    """
    for host, port in _addresses(settings.kafka_bootstrap_servers):
        try:
            connection = await create_conn(
                host,
                port,
                client_id=options["client_id"],
                request_timeout_ms=options["request_timeout_ms"],
                ssl_context=options.get("ssl_context"),
                security_protocol=options["security_protocol"],
                sasl_mechanism=options.get("sasl_mechanism", "PLAIN"),
                sasl_plain_username=options.get("sasl_plain_username"),
                sasl_plain_password=options.get("sasl_plain_password"),
                sasl_oauth_token_provider=options.get("sasl_oauth_token_provider"),
            )
        except ssl.SSLCertVerificationError as error:
            where = settings.kafka_ssl_cafile or "the system's CAs"
            return (
                f"kafka broker {host}:{port} is not trusted with BRIDGE_KAFKA_SSL_CAFILE="
                f"{where}: {error.verify_message}"
            )
        except (SaslAuthenticationFailed, IllegalSaslStateError) as error:
            return (
                f"kafka refused the {settings.kafka_sasl_mechanism} credentials of "
                f"{_who(settings)} at {host}:{port}: {error}"
            )
        except TokenError as error:
            return str(error)
        except UnsupportedSaslMechanismError as error:
            return (
                f"kafka broker {host}:{port} does not offer BRIDGE_KAFKA_SASL_MECHANISM="
                f"{settings.kafka_sasl_mechanism}: {error}"
            )
        except KafkaConnectionError as error:
            if settings.kafka_ssl_certfile and "closed" in str(error):
                return (
                    f"kafka broker {host}:{port} closed the TLS connection: does it trust the "
                    f"client certificate BRIDGE_KAFKA_SSL_CERTFILE={settings.kafka_ssl_certfile}?"
                )
            continue
        except (OSError, KafkaError, TimeoutError):
            continue
        connection.close()
    return None


def _who(settings: Settings) -> str:
    if settings.kafka_sasl_mechanism == "OAUTHBEARER":
        return "the OAuth token"
    return f"BRIDGE_KAFKA_SASL_USERNAME={settings.kafka_sasl_username}"


def _addresses(bootstrap: str) -> list[tuple[str, int]]:
    addresses = []
    for item in bootstrap.split(","):
        host, _, port = item.strip().rpartition(":")
        if host and port.isdigit():
            addresses.append((host.strip("[]"), int(port)))
    return addresses
