"""Settings, read once from `BRIDGE_*` environment variables.

Each field is the variable's name without the prefix, lower-cased
(`BRIDGE_KAFKA_BOOTSTRAP_SERVERS` -> `kafka_bootstrap_servers`). Values are
decoded by msgspec in lax mode, so `"8080"` becomes `8080` and `"true"`
becomes `True`; tuple fields are comma-separated lists.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from typing import Annotated, Literal

import msgspec

PREFIX = "BRIDGE_"

# Variables under the prefix that belong to tooling, not to the service.
_FOREIGN_PREFIXES = ("BRIDGE_TEST_", "BRIDGE_BENCH_")

Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]
Positive = Annotated[int, msgspec.Meta(ge=1)]
Seconds = Annotated[float, msgspec.Meta(gt=0)]
# Long enough that guessing one over the network is hopeless.
Token = Annotated[str, msgspec.Meta(min_length=16)]
TopicName = Annotated[str, msgspec.Meta(min_length=1, max_length=249, pattern=r"^[A-Za-z0-9._-]+$")]
# "<AccessKey>:<SecretKey>", as the platform's console shows a key pair.
VendorKey = Annotated[str, msgspec.Meta(pattern=r"^[^:\s,]+:[^\s,]+$")]
# The callback URL's scheme, host and any path prefix in front of the bridge; no query.
PublicUrl = Annotated[str, msgspec.Meta(pattern=r"^(https?://[^/?#\s]+(/[^?#\s]*)?)?$")]


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: Port = 8080
    workers: Positive = 1
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    kafka_bootstrap_servers: Annotated[str, msgspec.Meta(min_length=1)] = "127.0.0.1:9092"
    kafka_client_id: str = "video-callback-bridge"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] = (
        "PLAIN"
    )
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = ""
    # OAUTHBEARER: a token from an OIDC token endpoint (client credentials), or
    # one read from a file that something else keeps fresh.
    kafka_sasl_oauth_token_endpoint_url: str = ""
    kafka_sasl_oauth_client_id: str = ""
    kafka_sasl_oauth_client_secret: str = ""
    kafka_sasl_oauth_scope: str = ""
    kafka_sasl_oauth_token_file: str = ""
    kafka_ssl_cafile: str = ""
    kafka_ssl_certfile: str = ""
    kafka_ssl_keyfile: str = ""
    kafka_ssl_key_password: str = ""
    kafka_compression: Literal["zstd", "lz4", "gzip", "snappy", "none"] = "lz4"
    kafka_linger_ms: Annotated[int, msgspec.Meta(ge=0)] = 5
    kafka_max_batch_bytes: Positive = 262_144
    kafka_request_timeout_ms: Positive = 15_000

    topic_video_upload: TopicName = "vod.video-upload.v1"
    topic_material_upload: TopicName = "vod.material-upload.v1"
    topic_video_transcode: TopicName = "vod.video-transcode.v1"
    topic_media_processing: TopicName = "vod.media-processing.v1"
    topic_dlq: TopicName = "vod.callbacks.dlq.v1"
    create_topics: bool = False
    topic_partitions: Positive = 6
    # 0: as many replicas as the cluster has brokers, up to 3.
    topic_replication_factor: Annotated[int, msgspec.Meta(ge=0)] = 0

    # How long a callback waits for Kafka's acknowledgements before 503.
    produce_timeout_seconds: Seconds = 10.0
    retry_after_seconds: Positive = 5
    # How long start-up waits for the broker before serving as not ready.
    startup_timeout_seconds: Seconds = 15.0
    # A producer that delivers nothing for this long while the cluster answers is replaced.
    producer_stall_seconds: Seconds = 30.0
    event_source: Annotated[str, msgspec.Meta(min_length=1)] = "/cdnetworks/cloud-vod"

    # Limits: beyond them the answer is 413, 408 or 503, never unbounded memory.
    max_body_bytes: Positive = 1_048_576
    body_timeout_seconds: Seconds = 10.0
    max_requests_in_flight: Positive = 256
    max_records_in_flight: Positive = 20_000
    keepalive_timeout_seconds: Seconds = 5.0
    shutdown_grace_seconds: Seconds = 20.0

    # Authentication: any one valid credential admits a callback; tokens travel
    # in the path (/callbacks/<kind>/<token>), the `token` query parameter or
    # the `auth_header` header; signatures are HMAC-SHA256 over "<timestamp>.<body>".
    auth_tokens: tuple[Token, ...] = ()
    auth_header: str = "X-Callback-Token"
    hmac_secrets: tuple[Token, ...] = ()
    hmac_signature_header: str = "X-Callback-Signature"
    hmac_timestamp_header: str = "X-Callback-Timestamp"
    hmac_tolerance_seconds: Positive = 300
    # The platform's own signature, `Authorization: <AccessKey>:<signature>` over
    # "<notify URL without query>\n<body>": the URL is `public_url` + the request's path.
    vendor_signature: Literal["off", "optional", "required"] = "off"
    vendor_keys: tuple[VendorKey, ...] = ()
    public_url: PublicUrl = ""
    # When set, only these networks may post; X-Forwarded-For is believed only
    # from `trusted_proxies`.
    allowed_cidrs: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()
    allow_unauthenticated: bool = False

    # Reconciliation with the video API (`bridge reconcile`, docs/reconciliation.md).
    vod_api_url: Annotated[str, msgspec.Meta(pattern=r"^https?://[^/?#]+$")] = (
        "https://api.cloudv.haplat.net"
    )
    vod_access_key: str = ""
    vod_secret_key: str = ""
    vod_auth_scheme: Literal["ws3", "cnc"] = "ws3"
    # The zone of the API's "YYYY-MM-DD hh:mm:ss" times: an IANA name or +HH:MM. Undocumented;
    # the platform (Wangsu) runs on China Standard Time.
    vod_api_timezone: Annotated[str, msgspec.Meta(min_length=1)] = "+08:00"
    # The documented limit is 300 calls per 5 minutes per account, shared by every caller.
    vod_api_rate_limit: Positive = 300
    vod_api_rate_share: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.1
    vod_api_timeout_seconds: Seconds = 10.0
    vod_api_retries: Annotated[int, msgspec.Meta(ge=0)] = 8
    # Topic records are read from this long before the window's start.
    reconcile_slack_seconds: Annotated[float, msgspec.Meta(ge=0)] = 600.0

    def __post_init__(self) -> None:
        if self.kafka_sasl_mechanism == "OAUTHBEARER":
            _check_oauth(self)

    @property
    def kafka_max_request_bytes(self) -> int:
        """Room for the largest record: a whole body kept as a dead letter, plus headers."""
        return self.max_body_bytes + 65_536


# Values never echoed in an error message or a log line.
SECRET_FIELDS = frozenset(
    {
        "auth_tokens",
        "hmac_secrets",
        "vendor_keys",
        "kafka_sasl_password",
        "kafka_sasl_oauth_client_secret",
        "kafka_ssl_key_password",
        "vod_secret_key",
    }
)

_FIELDS = {field.name: field for field in msgspec.structs.fields(Settings)}
_LIST_FIELDS = frozenset(
    name for name, field in _FIELDS.items() if getattr(field.type, "__origin__", None) is tuple
)


class SettingsError(ValueError):
    """A `BRIDGE_*` variable whose value cannot be used; the message is one line."""


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Decode the `BRIDGE_*` variables of `environ` (default: the process's)."""
    raw = {
        name[len(PREFIX) :].lower(): value
        for name, value in (os.environ if environ is None else environ).items()
        if name.startswith(PREFIX) and not name.startswith(_FOREIGN_PREFIXES)
    }
    fields: dict[str, object] = {}
    for key, value in raw.items():
        if key not in _FIELDS:
            continue  # reported by unknown_variables(); Kubernetes adds some of its own
        fields[key] = _split(value) if key in _LIST_FIELDS else value
    try:
        return msgspec.convert(fields, Settings, strict=False)
    except msgspec.ValidationError as error:
        raise SettingsError(_describe(error, raw)) from None


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """One line per `BRIDGE_*` variable that no setting reads, with a likely intended name."""
    lines = []
    for name in sorted(os.environ if environ is None else environ):
        if not name.startswith(PREFIX) or name.startswith(_FOREIGN_PREFIXES):
            continue
        key = name[len(PREFIX) :].lower()
        if key in _FIELDS:
            continue
        close = difflib.get_close_matches(key, _FIELDS, n=1)
        hint = f" (did you mean {PREFIX}{close[0].upper()}?)" if close else ""
        lines.append(f"{name} is not a setting of the bridge and is ignored{hint}")
    return lines


def _check_oauth(settings: Settings) -> None:
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


def _split(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _describe(error: msgspec.ValidationError, raw: Mapping[str, str]) -> str:
    message = str(error)
    reason, _, where = message.partition(" - at `$.")
    key = where.split("`", 1)[0].split("[", 1)[0].split(".", 1)[0]
    if key not in raw:
        return f"invalid settings: {message}"
    shown = "<hidden>" if key in SECRET_FIELDS else repr(raw[key])
    return f"{PREFIX}{key.upper()}={shown} is invalid: {reason}"
