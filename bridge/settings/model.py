"""Every setting: type, default, description. The README's table and the chart's
`config:`/`secrets:` values and schema are generated from it (`make settings`)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from bridge.settings.rules import check_oauth
from bridge.settings.types import (
    Port,
    Positive,
    PublicUrl,
    Seconds,
    Token,
    TopicName,
    VendorKey,
    credential,
    doc,
    secret,
)


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    host: Annotated[
        str,
        doc(
            "address to listen on",
            chart="`0.0.0.0` so that the kubelet and the Service reach the pod (`::` for IPv6)",
            chart_default="0.0.0.0",  # noqa: S104 - in a pod, the Service must reach it
        ),
    ] = "127.0.0.1"
    port: Annotated[Port, doc("port to listen on (the container port `http`)")] = 8080
    workers: Annotated[
        Positive,
        doc("worker processes sharing the port, each with its own producer (prefer more pods)"),
    ] = 1
    log_level: Annotated[Literal["debug", "info", "warning", "error"], doc("log level")] = "info"

    kafka_bootstrap_servers: Annotated[
        str, msgspec.Meta(min_length=1), doc("Kafka brokers, comma-separated `host:port` list")
    ] = "127.0.0.1:9092"
    kafka_client_id: Annotated[str, doc("client id seen by the brokers")] = "video-callback-bridge"
    kafka_security_protocol: Annotated[
        Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"], doc("how to reach the brokers")
    ] = "PLAINTEXT"
    kafka_sasl_mechanism: Annotated[
        Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"],
        doc("SASL mechanism, with `SASL_*` (`OAUTHBEARER` takes a token endpoint or a token file)"),
    ] = "PLAIN"
    kafka_sasl_username: Annotated[str, credential("SASL user name")] = ""
    kafka_sasl_password: Annotated[str, secret("SASL password")] = ""
    kafka_sasl_oauth_token_endpoint_url: Annotated[
        str,
        doc(
            "OAUTHBEARER: OIDC token endpoint, client-credentials grant (the token is kept "
            "until 80 % of its lifetime)"
        ),
    ] = ""
    kafka_sasl_oauth_client_id: Annotated[
        str, doc("OAUTHBEARER: client id at the token endpoint (HTTP Basic)")
    ] = ""
    kafka_sasl_oauth_client_secret: Annotated[
        str, secret("OAUTHBEARER: client secret at the token endpoint")
    ] = ""
    kafka_sasl_oauth_scope: Annotated[
        str, doc("OAUTHBEARER: scope asked of the token endpoint (none when empty)")
    ] = ""
    kafka_sasl_oauth_token_file: Annotated[
        str,
        doc(
            "OAUTHBEARER: a file holding the token instead, read again for every connection "
            "(exactly one of the two)"
        ),
    ] = ""
    kafka_ssl_cafile: Annotated[
        str,
        doc(
            "CA bundle to verify the brokers (system CAs when empty)",
            chart="set by the chart when `kafkaTls.ca` is given",
        ),
    ] = ""
    kafka_ssl_certfile: Annotated[
        str,
        doc(
            "client certificate file for mutual TLS",
            chart="set by the chart when `kafkaTls.client` is given",
        ),
    ] = ""
    kafka_ssl_keyfile: Annotated[
        str,
        doc(
            "client key file for mutual TLS",
            chart="set by the chart when `kafkaTls.client` is given",
        ),
    ] = ""
    kafka_ssl_key_password: Annotated[
        str, secret("password of the mutual-TLS client key, if it is encrypted")
    ] = ""
    kafka_compression: Annotated[
        Literal["zstd", "lz4", "gzip", "snappy", "none"], doc("compression of record batches")
    ] = "lz4"
    kafka_linger_ms: Annotated[
        int,
        msgspec.Meta(ge=0),
        doc(
            "least time between two produce requests to one broker while callbacks keep coming "
            "(the tools: aiokafka's linger); an idle broker gets one at once; `0`: only coalesce "
            "while a request is out"
        ),
    ] = 5
    kafka_max_batch_bytes: Annotated[Positive, doc("producer batch size per partition")] = 262_144
    kafka_request_timeout_ms: Annotated[Positive, doc("Kafka request timeout")] = 15_000

    topic_video_upload: Annotated[TopicName, doc("video records")] = "vod.video-upload.v1"
    topic_material_upload: Annotated[TopicName, doc("material records")] = "vod.material-upload.v1"
    topic_video_transcode: Annotated[TopicName, doc("video transcoding records")] = (
        "vod.video-transcode.v1"
    )
    topic_media_processing: Annotated[TopicName, doc("media-processing notification records")] = (
        "vod.media-processing.v1"
    )
    topic_dlq: Annotated[TopicName, doc("dead letters")] = "vod.callbacks.dlq.v1"
    create_topics: Annotated[
        bool,
        doc("create missing topics at start-up; else a missing topic stops start-up, one line"),
    ] = False
    topic_partitions: Annotated[Positive, doc("partitions of created topics")] = 6
    topic_replication_factor: Annotated[
        int,
        msgspec.Meta(ge=0),
        doc("replicas of created topics; `0` means as many as the cluster has brokers, up to 3"),
    ] = 0

    produce_timeout_seconds: Annotated[
        Seconds, doc("how long a callback waits for Kafka's acknowledgements before `503`")
    ] = 10.0
    retry_after_seconds: Annotated[Positive, doc("the `Retry-After` of a `503`")] = 5
    startup_timeout_seconds: Annotated[
        Seconds,
        doc("how long start-up waits for Kafka before serving as not ready (and still connecting)"),
    ] = 15.0
    producer_stall_seconds: Annotated[
        Seconds,
        doc(
            "a producer with records waiting that delivers nothing this long, while the "
            "cluster answers, is replaced"
        ),
    ] = 30.0
    event_source: Annotated[str, msgspec.Meta(min_length=1), doc("the `ce_source` header")] = (
        "/cdnetworks/cloud-vod"
    )

    # Limits: beyond them the answer is 413, 408 or 503, never unbounded memory.
    max_body_bytes: Annotated[
        Positive, doc("largest accepted body (`413` beyond, refused while reading)")
    ] = 1_048_576
    body_timeout_seconds: Annotated[
        Seconds, doc("time allowed to receive a body (`408` beyond)")
    ] = 10.0
    max_requests_in_flight: Annotated[
        Positive, doc("callbacks handled at once per worker (`503` beyond)")
    ] = 256
    max_records_in_flight: Annotated[
        Positive, doc("records waiting for Kafka per worker (`503` beyond)")
    ] = 20_000
    keepalive_timeout_seconds: Annotated[
        Seconds, doc("idle keep-alive connections are closed after this")
    ] = 5.0
    shutdown_grace_seconds: Annotated[
        Seconds,
        doc("on SIGTERM, the time to finish callbacks in flight and flush the producer"),
    ] = 20.0

    # Authentication: any one valid credential admits a callback.
    auth_tokens: Annotated[
        tuple[Token, ...],
        secret(
            "comma-separated callback tokens, 16+ characters each, any one admits a callback; "
            "with none set (and no HMAC secret) the server refuses to start unless "
            "`BRIDGE_ALLOW_UNAUTHENTICATED=true`"
        ),
    ] = ()
    auth_header: Annotated[
        str, doc("header that may carry a token, for gateways; empty disables it")
    ] = "X-Callback-Token"
    hmac_secrets: Annotated[
        tuple[Token, ...],
        secret("comma-separated secrets for HMAC-SHA256 signed requests (`<timestamp>.<body>`)"),
    ] = ()
    hmac_signature_header: Annotated[
        str, doc("where a signature travels (hex, optionally `sha256=`-prefixed)")
    ] = "X-Callback-Signature"
    hmac_timestamp_header: Annotated[str, doc("where a signature's Unix timestamp travels")] = (
        "X-Callback-Timestamp"
    )
    hmac_tolerance_seconds: Annotated[
        Positive, doc("how far a signature's timestamp may be from now")
    ] = 300
    vendor_signature: Annotated[
        Literal["off", "optional", "required"],
        doc(
            "the platform's own signature (`Authorization: <AccessKey>:<signature>`): "
            "`optional` is verified when present, `required` is enough on its own (with "
            "tokens set, both must pass)"
        ),
    ] = "off"
    vendor_keys: Annotated[
        tuple[VendorKey, ...],
        secret(
            "comma-separated `AccessKey:SecretKey` pairs of the platform account, all of them "
            "(it signs with any one)"
        ),
    ] = ()
    public_url: Annotated[
        PublicUrl,
        doc(
            "the callback URL's base as configured at the platform, e.g. "
            "`https://bridge.example.com` (with any path prefix the ingress strips); the "
            "signed URL is this plus the request's path"
        ),
    ] = ""
    allowed_cidrs: Annotated[
        tuple[str, ...], doc("when set, only these networks may post (`403` otherwise)")
    ] = ()
    trusted_proxies: Annotated[
        tuple[str, ...],
        doc(
            "networks whose `X-Forwarded-For` is believed (walked from the right to the first "
            "untrusted hop); `Forwarded` and `X-Real-IP` are never believed"
        ),
    ] = ()
    allow_unauthenticated: Annotated[
        bool, doc("accept callbacks without credentials: in development, never in production")
    ] = False

    # Reconciliation with the video API (`bridge reconcile`, docs/reconciliation.md).
    vod_api_url: Annotated[
        str,
        msgspec.Meta(pattern=r"^https?://[^/?#]+$"),
        doc(
            "the video API `bridge reconcile` lists (scheme and host; the gateway is "
            "`https://api.cdnetworks.com`)"
        ),
    ] = "https://api.cloudv.haplat.net"
    vod_access_key: Annotated[
        str, credential("the video API's AccessKey, required by `bridge reconcile`")
    ] = ""
    vod_secret_key: Annotated[
        str, secret("the video API's SecretKey, required by `bridge reconcile`")
    ] = ""
    vod_auth_scheme: Annotated[
        Literal["ws3", "cnc"],
        doc("`ws3` (classic API, `WS3-HMAC-SHA256`) or `cnc` (gateway, `CNC-HMAC-SHA256`)"),
    ] = "ws3"
    # Undocumented; the platform (Wangsu) runs on China Standard Time.
    vod_api_timezone: Annotated[
        str,
        msgspec.Meta(min_length=1),
        doc(
            'zone in which the API reads its `"YYYY-MM-DD hh:mm:ss"` times: an IANA name or '
            "`+HH:MM`; undocumented, China Standard Time assumed "
            "(docs/reconciliation.md says why)"
        ),
    ] = "+08:00"
    vod_api_rate_limit: Annotated[
        Positive, doc("calls per 5 minutes the account may make (the documented limit)")
    ] = 300
    vod_api_rate_share: Annotated[
        float,
        msgspec.Meta(gt=0, le=1),
        doc(
            "share of that limit reconciliation uses (the default is the vendor's "
            "recommendation per API)"
        ),
    ] = 0.1
    vod_api_timeout_seconds: Annotated[Seconds, doc("timeout of one API call")] = 10.0
    vod_api_retries: Annotated[
        int,
        msgspec.Meta(ge=0),
        doc(
            "tries again after a network error or a rate-limit answer, doubling the wait, "
            "before the run fails"
        ),
    ] = 8
    reconcile_slack_seconds: Annotated[
        float,
        msgspec.Meta(ge=0),
        doc("the topic is read from this long before the window's start"),
    ] = 600.0

    def __post_init__(self) -> None:
        if self.kafka_sasl_mechanism == "OAUTHBEARER":
            check_oauth(self)

    @property
    def kafka_max_request_bytes(self) -> int:
        """Room for the largest record: a whole body kept as a dead letter, plus headers."""
        return self.max_body_bytes + 65_536
