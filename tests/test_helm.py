"""The Helm chart: lint, schema, Kubernetes validity of every variant, and the fields that matter.

Rendered with the pinned helm of `make tools`; manifests are validated offline against the
Kubernetes OpenAPI schemas shipped in the `kubernetes-validate` package.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml  # type: ignore[import-untyped]

import bridge
from bridge.settings import Settings, load_settings, unknown_variables
from tests.helm_tools import (
    CHART,
    FULLNAME,
    NAMESPACE,
    RELEASE,
    REPO,
    HelmFailed,
    HelmMissing,
    Rendered,
    chart_with_notes_probe,
    helm_binary,
    notes,
    run_helm,
    template,
    template_error,
    value_args,
)
from tests.tool_versions import pinned

# The chart's kubeVersion floor and the newest schemas kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.29", "1.37")
CI_VARIANTS = [
    "existing-secret",
    "full-config",
    "hpa",
    "ingress-tls",
    "kafka-mtls",
    "kafka-oauthbearer",
    "kafka-sasl-scram",
    "kafka-tls-pem",
    "networkpolicy",
    "pdb",
    "reconcile",
    "servicemonitor",
]
VARIANTS = ["default", *CI_VARIANTS]
SECRET_SETTINGS = [
    "auth_tokens",
    "hmac_secrets",
    "vendor_keys",
    "kafka_sasl_username",
    "kafka_sasl_password",
    "kafka_sasl_oauth_client_secret",
    "kafka_ssl_key_password",
    "vod_access_key",
    "vod_secret_key",
]
SELECTOR = {
    "app.kubernetes.io/name": "video-callback-bridge",
    "app.kubernetes.io/instance": RELEASE,
}
LABELS = {
    "helm.sh/chart": "video-callback-bridge-0.1.0",
    **SELECTOR,
    "app.kubernetes.io/version": "0.1.0",
    "app.kubernetes.io/managed-by": "Helm",
}
TOKEN = "ci-token-0123456789abcdef"
# The pod's writable emptyDir.
TMP_MOUNT = {"name": "tmp", "mountPath": "/tmp"}  # noqa: S108


def ci_file(variant: str) -> Path:
    return CHART / "ci" / f"{variant}-values.yaml"


def variant_args(variant: str) -> list[str]:
    return [] if variant == "default" else value_args([ci_file(variant)])


@pytest.fixture(scope="module", autouse=True)
def helm() -> Path:
    try:
        return helm_binary()
    except HelmMissing as error:
        missing = str(error)
    pytest.fail(missing, pytrace=False)


@pytest.fixture(scope="module")
def rendered(helm: Path) -> dict[str, Rendered]:
    return {variant: template(*variant_args(variant)) for variant in VARIANTS}


@pytest.fixture(scope="module")
def notes_chart(tmp_path_factory: pytest.TempPathFactory, helm: Path) -> Path:
    return chart_with_notes_probe(tmp_path_factory.mktemp("notes"))


def render(**values: object) -> Rendered:
    """`helm template` with values given as dotted keys (`__` for `.`)."""
    return template(*set_args(**values))


def set_args(**values: object) -> list[str]:
    return value_args(
        values={key.replace("__", "."): json.dumps(value) for key, value in values.items()}
    )


def decoded(secret: dict[str, Any]) -> dict[str, str]:
    return {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}


# -- the tool, the chart's metadata, lint -------------------------------------------------


def test_helm_is_the_pinned_version() -> None:
    done = run_helm("version", "--template", "{{.Version}} {{.GoVersion}}")

    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == pinned("HELM_VERSION") == "v3.22.0"


def test_chart_metadata() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())

    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "video-callback-bridge"
    assert chart["type"] == "application"
    assert chart["version"] == "0.1.0"
    assert chart["appVersion"] == bridge.__version__
    assert chart["kubeVersion"] == f">={KUBERNETES_VERSIONS[0]}.0-0"


def test_kube_version_floor_is_enforced() -> None:
    template("--kube-version", "1.29.0")
    error = template_error("--kube-version", "1.28.9")

    assert (
        "chart requires kubeVersion: >=1.29.0-0 which is incompatible with Kubernetes v1.28.9"
        in (error)
    )


@pytest.mark.parametrize("variant", VARIANTS)
def test_lint_strict(variant: str) -> None:
    done = run_helm("lint", "--strict", str(CHART), *variant_args(variant))

    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in done.stdout
    assert "[WARNING]" not in done.stdout
    assert "[ERROR]" not in done.stdout


def test_ci_directory_has_one_file_per_feature() -> None:
    assert sorted(p.name for p in (CHART / "ci").iterdir()) == [
        f"{variant}-values.yaml" for variant in CI_VARIANTS
    ]


# -- every rendered object is a valid Kubernetes object ---------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_manifests_are_valid_kubernetes_objects(
    rendered: dict[str, Rendered], variant: str
) -> None:
    checked = []
    for manifest in rendered[variant]:
        if manifest["kind"] == "ServiceMonitor":
            continue  # a CRD: see test_service_monitor
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(manifest, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                where = "/".join(str(part) for part in error.absolute_path)
                pytest.fail(
                    f"{variant}: {manifest['kind']} {manifest['metadata']['name']} is not a valid "
                    f"Kubernetes {version} object: {error.message} (at {where})",
                    pytrace=False,
                )
        checked.append(manifest["kind"])
    assert {"Deployment", "Service", "ConfigMap", "ServiceAccount", "Pod"} <= set(checked)


def test_the_validator_rejects_what_kubernetes_would(rendered: dict[str, Rendered]) -> None:
    deployment = json.loads(json.dumps(rendered["default"].deployment))
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"][
        "readOnlyRootFileSystem"
    ] = True

    with pytest.raises(kubernetes_validate.ValidationError) as caught:
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)

    assert "'readOnlyRootFileSystem' was unexpected" in caught.value.message


# -- what is rendered, per variant -------------------------------------------------------------

BASE = [
    ("ConfigMap", FULLNAME),
    ("Deployment", FULLNAME),
    ("Pod", f"{FULLNAME}-test-connection"),
    ("Service", FULLNAME),
    ("ServiceAccount", FULLNAME),
]
WITH_SECRET = sorted([*BASE, ("Secret", FULLNAME)])


@pytest.mark.parametrize(
    ("variant", "kinds"),
    [
        ("default", BASE),
        ("existing-secret", BASE),
        ("full-config", WITH_SECRET),
        (
            "hpa",
            sorted(
                [
                    *WITH_SECRET,
                    ("HorizontalPodAutoscaler", FULLNAME),
                    ("PodDisruptionBudget", FULLNAME),
                ]
            ),
        ),
        ("ingress-tls", sorted([*WITH_SECRET, ("Ingress", FULLNAME)])),
        ("kafka-mtls", WITH_SECRET),
        ("kafka-oauthbearer", WITH_SECRET),
        ("kafka-sasl-scram", WITH_SECRET),
        ("kafka-tls-pem", sorted([*WITH_SECRET, ("Secret", f"{FULLNAME}-kafka-tls")])),
        ("networkpolicy", sorted([*WITH_SECRET, ("NetworkPolicy", FULLNAME)])),
        ("pdb", sorted([*WITH_SECRET, ("PodDisruptionBudget", FULLNAME)])),
        ("reconcile", sorted([*WITH_SECRET, ("CronJob", f"{FULLNAME}-reconcile")])),
        ("servicemonitor", sorted([*WITH_SECRET, ("ServiceMonitor", FULLNAME)])),
    ],
)
def test_rendered_objects(
    rendered: dict[str, Rendered], variant: str, kinds: list[tuple[str, str]]
) -> None:
    assert rendered[variant].kinds() == kinds


@pytest.mark.parametrize("variant", VARIANTS)
def test_labels_and_selectors(rendered: dict[str, Rendered], variant: str) -> None:
    objects = rendered[variant]
    for manifest in objects:
        if manifest["kind"] == "Pod":
            continue  # the test hook: see test_helm_test_hook
        assert manifest["metadata"]["labels"] == {
            **LABELS,
            **({"release": "prometheus"} if manifest["kind"] == "ServiceMonitor" else {}),
        }
        expected_namespace = "monitoring" if manifest["kind"] == "ServiceMonitor" else NAMESPACE
        assert manifest["metadata"]["namespace"] == expected_namespace

    deployment = objects.deployment
    assert deployment["spec"]["selector"] == {"matchLabels": SELECTOR}
    assert deployment["spec"]["template"]["metadata"]["labels"] == LABELS
    assert objects.one("Service")["spec"]["selector"] == SELECTOR
    for kind in ("PodDisruptionBudget", "ServiceMonitor"):
        for manifest in objects.all(kind):
            assert manifest["spec"]["selector"] == {"matchLabels": SELECTOR}
    for policy in objects.all("NetworkPolicy"):
        assert policy["spec"]["podSelector"] == {"matchLabels": SELECTOR}


def test_fullname_follows_release_and_overrides() -> None:
    assert render(fullnameOverride="callbacks").kinds() == [
        ("ConfigMap", "callbacks"),
        ("Deployment", "callbacks"),
        ("Pod", "callbacks-test-connection"),
        ("Service", "callbacks"),
        ("ServiceAccount", "callbacks"),
    ]
    named = render(nameOverride="bridge")
    assert named.one("Deployment", "vcb-bridge")["spec"]["selector"] == {
        "matchLabels": {"app.kubernetes.io/name": "bridge", "app.kubernetes.io/instance": RELEASE}
    }


# -- the pod ------------------------------------------------------------------------------------


def test_pod_defaults(rendered: dict[str, Rendered]) -> None:
    objects = rendered["default"]
    spec = objects.pod_spec
    container = objects.container

    assert objects.deployment["spec"]["replicas"] == 1
    assert objects.deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    assert spec["enableServiceLinks"] is False
    assert spec["automountServiceAccountToken"] is False
    assert spec["serviceAccountName"] == FULLNAME
    assert objects.one("ServiceAccount")["automountServiceAccountToken"] is False
    assert container["image"] == "video-callback-bridge:0.1.0"
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["args"] == ["serve"]
    assert "command" not in container  # the image's ENTRYPOINT: bridge
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["envFrom"] == [{"configMapRef": {"name": FULLNAME}}]
    assert "env" not in container  # no credentials configured
    assert "resources" not in container


def test_image_digest_wins_over_tag() -> None:
    digest = "sha256:" + "ab" * 32
    container = render(image__repository="registry.example.com/vcb", image__tag="1.2.3").container
    assert container["image"] == "registry.example.com/vcb:1.2.3"
    container = render(image__repository="registry.example.com/vcb", image__digest=digest).container
    assert container["image"] == f"registry.example.com/vcb@{digest}"


def test_probes(rendered: dict[str, Rendered]) -> None:
    container = rendered["default"].container

    assert container["startupProbe"] == {
        "httpGet": {"path": "/healthz", "port": "http"},
        "initialDelaySeconds": 0,
        "periodSeconds": 2,
        "timeoutSeconds": 2,
        "failureThreshold": 30,
    }
    assert container["livenessProbe"] == {
        "httpGet": {"path": "/healthz", "port": "http"},
        "initialDelaySeconds": 0,
        "periodSeconds": 10,
        "timeoutSeconds": 2,
        "failureThreshold": 3,
    }
    assert container["readinessProbe"] == {
        "httpGet": {"path": "/readyz", "port": "http"},
        "initialDelaySeconds": 0,
        "periodSeconds": 5,
        "timeoutSeconds": 2,
        "failureThreshold": 2,
        "successThreshold": 1,
    }


def test_startup_probe_outlasts_the_kafka_wait() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    startup = values["probes"]["startup"]

    assert (
        startup["periodSeconds"] * startup["failureThreshold"]
        > 2 * Settings().startup_timeout_seconds
    )


def test_security_context(rendered: dict[str, Rendered]) -> None:
    objects = rendered["default"]

    assert objects.pod_spec["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert objects.container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert objects.container["volumeMounts"] == [TMP_MOUNT]
    assert objects.pod_spec["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]


def test_image_user_matches_the_pod_user() -> None:
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()

    assert "USER 10001:10001" in dockerfile.splitlines()


# -- graceful shutdown ------------------------------------------------------------------------


def test_prestop_and_termination_grace_by_default(rendered: dict[str, Rendered]) -> None:
    objects = rendered["default"]

    assert objects.container["lifecycle"] == {"preStop": {"exec": {"command": ["sleep", "5"]}}}
    # preStop 5 s + the bridge's 20 s shutdown grace + 10 s margin
    assert objects.pod_spec["terminationGracePeriodSeconds"] == 35


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"config__shutdown_grace_seconds": 42.5}, 58),
        ({"preStopSleepSeconds": 12}, 42),
        ({"terminationGracePeriodSeconds": 26}, 26),
        ({"terminationGracePeriodSeconds": 120, "config__shutdown_grace_seconds": 90}, 120),
    ],
)
def test_termination_grace_is_computed_or_checked(values: dict[str, object], expected: int) -> None:
    objects = render(**values)
    spec = objects.pod_spec
    pre_stop = int(objects.container["lifecycle"]["preStop"]["exec"]["command"][1])
    grace = load_settings(objects.one("ConfigMap")["data"]).shutdown_grace_seconds

    assert spec["terminationGracePeriodSeconds"] == expected
    assert spec["terminationGracePeriodSeconds"] > pre_stop + grace


def test_termination_grace_too_short_is_refused() -> None:
    error = template_error(*set_args(terminationGracePeriodSeconds=25))

    assert (
        "terminationGracePeriodSeconds (25) must be longer than preStopSleepSeconds (5) + "
        "config.shutdown_grace_seconds (20) = 25, or Kubernetes kills the bridge before it has "
        "finished its callbacks and flushed Kafka; raise it or leave it empty to have it computed"
    ) in error


def test_no_prestop_hook_when_its_sleep_is_zero() -> None:
    objects = render(preStopSleepSeconds=0)

    assert "lifecycle" not in objects.container
    assert objects.pod_spec["terminationGracePeriodSeconds"] == 30


# -- settings, rendered as the bridge reads them (values and schema: tests/test_settings_docs.py)


def chart_values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return values


def test_default_configmap(rendered: dict[str, Rendered]) -> None:
    data = rendered["default"].one("ConfigMap")["data"]

    assert data == {
        "BRIDGE_HOST": "0.0.0.0",
        "BRIDGE_PORT": "8080",
        "BRIDGE_WORKERS": "1",
        "BRIDGE_LOG_LEVEL": "info",
        "BRIDGE_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
        "BRIDGE_KAFKA_CLIENT_ID": "video-callback-bridge",
        "BRIDGE_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",
        "BRIDGE_KAFKA_SASL_MECHANISM": "PLAIN",
        "BRIDGE_KAFKA_SASL_OAUTH_TOKEN_ENDPOINT_URL": "",
        "BRIDGE_KAFKA_SASL_OAUTH_CLIENT_ID": "",
        "BRIDGE_KAFKA_SASL_OAUTH_SCOPE": "",
        "BRIDGE_KAFKA_SASL_OAUTH_TOKEN_FILE": "",
        "BRIDGE_KAFKA_SSL_CAFILE": "",
        "BRIDGE_KAFKA_SSL_CERTFILE": "",
        "BRIDGE_KAFKA_SSL_KEYFILE": "",
        "BRIDGE_KAFKA_COMPRESSION": "lz4",
        "BRIDGE_KAFKA_LINGER_MS": "5",
        "BRIDGE_KAFKA_MAX_BATCH_BYTES": "262144",
        "BRIDGE_KAFKA_REQUEST_TIMEOUT_MS": "15000",
        "BRIDGE_TOPIC_VIDEO_UPLOAD": "vod.video-upload.v1",
        "BRIDGE_TOPIC_MATERIAL_UPLOAD": "vod.material-upload.v1",
        "BRIDGE_TOPIC_VIDEO_TRANSCODE": "vod.video-transcode.v1",
        "BRIDGE_TOPIC_MEDIA_PROCESSING": "vod.media-processing.v1",
        "BRIDGE_TOPIC_DLQ": "vod.callbacks.dlq.v1",
        "BRIDGE_CREATE_TOPICS": "false",
        "BRIDGE_TOPIC_PARTITIONS": "6",
        "BRIDGE_TOPIC_REPLICATION_FACTOR": "0",
        "BRIDGE_PRODUCE_TIMEOUT_SECONDS": "10",
        "BRIDGE_RETRY_AFTER_SECONDS": "5",
        "BRIDGE_STARTUP_TIMEOUT_SECONDS": "15",
        "BRIDGE_PRODUCER_STALL_SECONDS": "30",
        "BRIDGE_EVENT_SOURCE": "/cdnetworks/cloud-vod",
        "BRIDGE_MAX_BODY_BYTES": "1048576",
        "BRIDGE_BODY_TIMEOUT_SECONDS": "10",
        "BRIDGE_MAX_REQUESTS_IN_FLIGHT": "256",
        "BRIDGE_MAX_RECORDS_IN_FLIGHT": "20000",
        "BRIDGE_KEEPALIVE_TIMEOUT_SECONDS": "5",
        "BRIDGE_SHUTDOWN_GRACE_SECONDS": "20",
        "BRIDGE_AUTH_HEADER": "X-Callback-Token",
        "BRIDGE_HMAC_SIGNATURE_HEADER": "X-Callback-Signature",
        "BRIDGE_HMAC_TIMESTAMP_HEADER": "X-Callback-Timestamp",
        "BRIDGE_HMAC_TOLERANCE_SECONDS": "300",
        "BRIDGE_VENDOR_SIGNATURE": "off",
        "BRIDGE_PUBLIC_URL": "",
        "BRIDGE_ALLOWED_CIDRS": "",
        "BRIDGE_TRUSTED_PROXIES": "",
        "BRIDGE_ALLOW_UNAUTHENTICATED": "false",
        "BRIDGE_VOD_API_URL": "https://api.cloudv.haplat.net",
        "BRIDGE_VOD_AUTH_SCHEME": "ws3",
        "BRIDGE_VOD_API_TIMEZONE": "+08:00",
        "BRIDGE_VOD_API_RATE_LIMIT": "300",
        "BRIDGE_VOD_API_RATE_SHARE": "0.1",
        "BRIDGE_VOD_API_TIMEOUT_SECONDS": "10",
        "BRIDGE_VOD_API_RETRIES": "8",
        "BRIDGE_RECONCILE_SLACK_SECONDS": "600",
    }
    assert load_settings(data) == Settings(host="0.0.0.0")
    assert unknown_variables(data) == []


def test_every_setting_reaches_the_bridge(rendered: dict[str, Rendered]) -> None:
    """The pod's environment (ConfigMap + Secret), read by the bridge's own loader."""
    objects = rendered["full-config"]
    config = objects.one("ConfigMap")["data"]
    secret = decoded(objects.one("Secret"))
    environ = {**config, **secret}

    settings = load_settings(environ)

    assert unknown_variables(environ) == []
    assert settings == Settings(
        host="::",
        port=9000,
        workers=2,
        log_level="debug",
        kafka_bootstrap_servers="kafka-0.kafka:9092,kafka-1.kafka:9092",
        kafka_client_id="vcb-ci",
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="vcb-ci-user",
        kafka_sasl_password="ci-sasl-password",
        kafka_sasl_oauth_token_endpoint_url="https://login.example.com/oauth2/token",
        kafka_sasl_oauth_client_id="vcb-ci-client",
        kafka_sasl_oauth_client_secret="ci-oauth-secret",
        kafka_sasl_oauth_scope="kafka",
        kafka_ssl_cafile="/etc/ssl/certs/ca-certificates.crt",
        kafka_ssl_certfile="/etc/bridge/custom/client.crt",
        kafka_ssl_keyfile="/etc/bridge/custom/client.key",
        kafka_ssl_key_password="ci-key-password",
        kafka_compression="zstd",
        kafka_linger_ms=20,
        kafka_max_batch_bytes=1_048_576,
        kafka_request_timeout_ms=30_000,
        topic_video_upload="ci.video-upload.v1",
        topic_material_upload="ci.material-upload.v1",
        topic_video_transcode="ci.video-transcode.v1",
        topic_media_processing="ci.media-processing.v1",
        topic_dlq="ci.callbacks.dlq.v1",
        create_topics=True,
        topic_partitions=12,
        topic_replication_factor=3,
        produce_timeout_seconds=7.5,
        retry_after_seconds=9,
        startup_timeout_seconds=45.0,
        producer_stall_seconds=60.0,
        event_source="/ci/cloud-vod",
        max_body_bytes=4_194_304,
        body_timeout_seconds=2.5,
        max_requests_in_flight=64,
        max_records_in_flight=5000,
        keepalive_timeout_seconds=75.0,
        shutdown_grace_seconds=42.5,
        auth_tokens=("ci-token-0123456789abcdef", "ci-token-fedcba9876543210"),
        auth_header="X-CI-Token",
        hmac_secrets=("ci-hmac-secret-0123456789",),
        hmac_signature_header="X-CI-Signature",
        hmac_timestamp_header="X-CI-Timestamp",
        hmac_tolerance_seconds=120,
        vendor_signature="optional",
        vendor_keys=("AKIDci0001:ci-vendor-secret-one", "AKIDci0002:ci-vendor-secret-two"),
        public_url="https://callbacks.ci.example.com/vod",
        allowed_cidrs=("203.0.113.0/24", "198.51.100.7/32"),
        trusted_proxies=("10.0.0.0/8",),
        allow_unauthenticated=True,
        vod_api_url="https://api.cdnetworks.com",
        vod_access_key="ci-vod-access-key",
        vod_secret_key="ci-vod-secret-key",
        vod_auth_scheme="cnc",
        vod_api_timezone="Asia/Shanghai",
        vod_api_rate_limit=600,
        vod_api_rate_share=0.25,
        vod_api_timeout_seconds=20.0,
        vod_api_retries=4,
        reconcile_slack_seconds=900.0,
    )
    assert objects.container["ports"] == [
        {"name": "http", "containerPort": 9000, "protocol": "TCP"}
    ]
    assert objects.pod_spec["terminationGracePeriodSeconds"] == 60


def test_numbers_set_on_the_command_line_render_the_same() -> None:
    """`--set` gives whole numbers as int64 where values files give float64."""
    data = template("--set", "config.max_body_bytes=4194304,config.kafka_linger_ms=0").one(
        "ConfigMap"
    )["data"]

    assert (data["BRIDGE_MAX_BODY_BYTES"], data["BRIDGE_KAFKA_LINGER_MS"]) == ("4194304", "0")


# -- credentials --------------------------------------------------------------------------------


def secret_env(objects: Rendered) -> list[dict[str, Any]]:
    return [e for e in objects.container.get("env", []) if "valueFrom" in e]


def test_credentials_stay_out_of_the_configmap(rendered: dict[str, Rendered]) -> None:
    objects = rendered["full-config"]
    configmap = json.dumps(objects.one("ConfigMap"))
    secret = objects.one("Secret")

    assert secret["type"] == "Opaque"
    assert decoded(secret) == {
        "BRIDGE_AUTH_TOKENS": "ci-token-0123456789abcdef,ci-token-fedcba9876543210",
        "BRIDGE_HMAC_SECRETS": "ci-hmac-secret-0123456789",
        "BRIDGE_VENDOR_KEYS": "AKIDci0001:ci-vendor-secret-one,AKIDci0002:ci-vendor-secret-two",
        "BRIDGE_KAFKA_SASL_USERNAME": "vcb-ci-user",
        "BRIDGE_KAFKA_SASL_PASSWORD": "ci-sasl-password",
        "BRIDGE_KAFKA_SASL_OAUTH_CLIENT_SECRET": "ci-oauth-secret",
        "BRIDGE_KAFKA_SSL_KEY_PASSWORD": "ci-key-password",
        "BRIDGE_VOD_ACCESS_KEY": "ci-vod-access-key",
        "BRIDGE_VOD_SECRET_KEY": "ci-vod-secret-key",
    }
    for value in decoded(secret).values():
        for part in value.split(","):
            assert part not in configmap
    assert secret_env(objects) == [
        {
            "name": f"BRIDGE_{name.upper()}",
            "valueFrom": {"secretKeyRef": {"name": FULLNAME, "key": f"BRIDGE_{name.upper()}"}},
        }
        for name in SECRET_SETTINGS
    ]


def test_only_the_credentials_given_are_referenced() -> None:
    objects = render(secrets__auth_tokens=[TOKEN])

    assert decoded(objects.one("Secret")) == {"BRIDGE_AUTH_TOKENS": TOKEN}
    assert secret_env(objects) == [
        {
            "name": "BRIDGE_AUTH_TOKENS",
            "valueFrom": {"secretKeyRef": {"name": FULLNAME, "key": "BRIDGE_AUTH_TOKENS"}},
        }
    ]


def test_existing_secret(rendered: dict[str, Rendered]) -> None:
    objects = rendered["existing-secret"]

    assert not objects.has("Secret")
    assert secret_env(objects) == [
        {
            "name": f"BRIDGE_{name.upper()}",
            "valueFrom": {
                "secretKeyRef": {
                    "name": "video-callback-bridge-credentials",
                    "key": f"BRIDGE_{name.upper()}",
                    "optional": True,
                }
            },
        }
        for name in SECRET_SETTINGS
    ]


def test_existing_secret_with_values_is_refused() -> None:
    error = template_error(
        *set_args(secrets__existingSecret="creds", secrets__kafka_sasl_password="x")
    )

    assert "secrets.existingSecret is set: leave the other secrets.* values empty" in error


def test_extra_env_follows_the_credentials() -> None:
    objects = render(secrets__auth_tokens=[TOKEN], extraEnv=[{"name": "TZ", "value": "UTC"}])

    assert [e["name"] for e in objects.container["env"]] == ["BRIDGE_AUTH_TOKENS", "TZ"]


# -- Kafka security ----------------------------------------------------------------------------


def test_kafka_sasl_scram_over_tls(rendered: dict[str, Rendered]) -> None:
    objects = rendered["kafka-sasl-scram"]
    config = objects.one("ConfigMap")["data"]

    assert config["BRIDGE_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["BRIDGE_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert config["BRIDGE_KAFKA_SSL_CAFILE"] == "/etc/bridge/kafka-ca/ca.crt"
    assert (config["BRIDGE_KAFKA_SSL_CERTFILE"], config["BRIDGE_KAFKA_SSL_KEYFILE"]) == ("", "")
    assert decoded(objects.one("Secret")) == {
        "BRIDGE_AUTH_TOKENS": TOKEN,
        "BRIDGE_KAFKA_SASL_USERNAME": "video-callback-bridge",
        "BRIDGE_KAFKA_SASL_PASSWORD": "ci-scram-password",
    }
    assert objects.container["volumeMounts"] == [
        TMP_MOUNT,
        {"name": "kafka-ca", "mountPath": "/etc/bridge/kafka-ca", "readOnly": True},
    ]
    assert objects.pod_spec["volumes"][1] == {
        "name": "kafka-ca",
        "secret": {
            "secretName": "events-cluster-ca-cert",
            "defaultMode": 0o444,
            "items": [{"key": "ca.crt", "path": "ca.crt"}],
        },
    }


def test_kafka_oauthbearer_with_a_token_endpoint(rendered: dict[str, Rendered]) -> None:
    objects = rendered["kafka-oauthbearer"]
    config = objects.one("ConfigMap")["data"]

    assert config["BRIDGE_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["BRIDGE_KAFKA_SASL_MECHANISM"] == "OAUTHBEARER"
    assert config["BRIDGE_KAFKA_SASL_OAUTH_TOKEN_ENDPOINT_URL"] == (
        "https://login.example.com/oauth2/token"
    )
    assert config["BRIDGE_KAFKA_SASL_OAUTH_CLIENT_ID"] == "video-callback-bridge"
    assert config["BRIDGE_KAFKA_SASL_OAUTH_SCOPE"] == "kafka"
    assert config["BRIDGE_KAFKA_SASL_OAUTH_TOKEN_FILE"] == ""
    assert config["BRIDGE_KAFKA_SSL_CAFILE"] == "/etc/bridge/kafka-ca/ca.crt"
    assert "BRIDGE_KAFKA_SASL_OAUTH_CLIENT_SECRET" not in config
    assert decoded(objects.one("Secret")) == {
        "BRIDGE_AUTH_TOKENS": TOKEN,
        "BRIDGE_KAFKA_SASL_OAUTH_CLIENT_SECRET": "ci-oauth-client-secret",
    }


def test_kafka_mutual_tls_from_existing_secrets(rendered: dict[str, Rendered]) -> None:
    objects = rendered["kafka-mtls"]
    config = objects.one("ConfigMap")["data"]

    assert config["BRIDGE_KAFKA_SECURITY_PROTOCOL"] == "SSL"
    assert config["BRIDGE_KAFKA_SSL_CAFILE"] == "/etc/bridge/kafka-ca/ca.crt"
    assert config["BRIDGE_KAFKA_SSL_CERTFILE"] == "/etc/bridge/kafka-client/tls.crt"
    assert config["BRIDGE_KAFKA_SSL_KEYFILE"] == "/etc/bridge/kafka-client/tls.key"
    assert objects.container["volumeMounts"] == [
        TMP_MOUNT,
        {"name": "kafka-ca", "mountPath": "/etc/bridge/kafka-ca", "readOnly": True},
        {"name": "kafka-client", "mountPath": "/etc/bridge/kafka-client", "readOnly": True},
    ]
    assert objects.pod_spec["volumes"][1:] == [
        {
            "name": "kafka-ca",
            "secret": {
                "secretName": "events-cluster-ca-cert",
                "defaultMode": 0o444,
                "items": [{"key": "ca.crt", "path": "ca.crt"}],
            },
        },
        {
            "name": "kafka-client",
            "secret": {
                "secretName": "video-callback-bridge-kafka-user",
                "defaultMode": 0o440,
                "items": [
                    {"key": "user.crt", "path": "tls.crt"},
                    {"key": "user.key", "path": "tls.key"},
                ],
            },
        },
    ]


def test_kafka_tls_files_given_as_pem(rendered: dict[str, Rendered]) -> None:
    objects = rendered["kafka-tls-pem"]
    tls = objects.one("Secret", f"{FULLNAME}-kafka-tls")

    assert decoded(tls) == {
        "ca.crt": "-----BEGIN CERTIFICATE-----\nY2ktY2EtY2VydGlmaWNhdGU=\n"
        "-----END CERTIFICATE-----\n",
        "tls.crt": "-----BEGIN CERTIFICATE-----\nY2ktY2xpZW50LWNlcnRpZmljYXRl\n"
        "-----END CERTIFICATE-----\n",
        "tls.key": "-----BEGIN ENCRYPTED PRIVATE KEY-----\nY2ktY2xpZW50LWtleQ==\n"
        "-----END ENCRYPTED PRIVATE KEY-----\n",
    }
    volumes = {v["name"]: v["secret"] for v in objects.pod_spec["volumes"] if "secret" in v}
    assert volumes == {
        "kafka-ca": {
            "secretName": f"{FULLNAME}-kafka-tls",
            "defaultMode": 0o444,
            "items": [{"key": "ca.crt", "path": "ca.crt"}],
        },
        "kafka-client": {
            "secretName": f"{FULLNAME}-kafka-tls",
            "defaultMode": 0o440,
            "items": [{"key": "tls.crt", "path": "tls.crt"}, {"key": "tls.key", "path": "tls.key"}],
        },
    }
    assert decoded(objects.one("Secret"))["BRIDGE_KAFKA_SSL_KEY_PASSWORD"] == "ci-key-password"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"kafkaTls__ca__existingSecret": "ca", "kafkaTls__ca__pem": "x"},
            "kafkaTls.ca: set existingSecret or pem, not both",
        ),
        (
            {"kafkaTls__client__certPem": "x"},
            "kafkaTls.client: certPem and keyPem go together",
        ),
        (
            {"kafkaTls__client__existingSecret": "c", "kafkaTls__client__keyPem": "x"},
            "kafkaTls.client: set existingSecret or certPem/keyPem, not both",
        ),
        (
            {"kafkaTls__ca__existingSecret": "ca"},
            "kafkaTls is set but config.kafka_security_protocol is PLAINTEXT: TLS files are only "
            "used with SSL or SASL_SSL",
        ),
        (
            {
                "kafkaTls__ca__existingSecret": "ca",
                "config__kafka_security_protocol": "SSL",
                "config__kafka_ssl_cafile": "/x",
            },
            "config.kafka_ssl_cafile is set by the chart when kafkaTls.ca is given: leave it empty",
        ),
        (
            {
                "kafkaTls__client__existingSecret": "c",
                "config__kafka_security_protocol": "SSL",
                "config__kafka_ssl_keyfile": "/x",
            },
            "config.kafka_ssl_certfile and config.kafka_ssl_keyfile are set by the chart when "
            "kafkaTls.client is given: leave them empty",
        ),
    ],
)
def test_contradicting_kafka_tls_values_are_refused(
    values: dict[str, object], message: str
) -> None:
    assert (
        f"execution error at (video-callback-bridge/templates/deployment.yaml:1:4): {message}"
        in (template_error(*set_args(**values)))
    )


# -- roll-outs -----------------------------------------------------------------------------------


def checksums(objects: Rendered) -> dict[str, str]:
    annotations: dict[str, str] = objects.deployment["spec"]["template"]["metadata"]["annotations"]
    return annotations


def test_checksum_annotations_roll_the_pods_on_change(rendered: dict[str, Rendered]) -> None:
    base = checksums(rendered["default"])
    other_setting = checksums(render(config__log_level="debug"))
    other_token = checksums(render(secrets__auth_tokens=[TOKEN]))
    other_ca = checksums(
        render(config__kafka_security_protocol="SSL", kafkaTls__ca__existingSecret="other-ca")
    )

    assert set(base) == {"checksum/config", "checksum/secret"}
    assert all(re.fullmatch(r"[0-9a-f]{64}", value) for value in base.values())
    assert other_setting["checksum/config"] != base["checksum/config"]
    assert other_setting["checksum/secret"] == base["checksum/secret"]
    assert other_token["checksum/config"] == base["checksum/config"]
    assert other_token["checksum/secret"] != base["checksum/secret"]
    assert other_ca["checksum/secret"] != base["checksum/secret"]
    assert checksums(render(podAnnotations={"a": "b"})) == {**base, "a": "b"}


def test_checksum_of_the_config_is_that_of_the_configmap() -> None:
    done = run_helm(
        "template",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--show-only",
        "templates/configmap.yaml",
    )
    text = done.stdout.split("# Source: video-callback-bridge/templates/configmap.yaml\n", 1)[1]

    assert checksums(template())["checksum/config"] == hashlib.sha256(text.encode()).hexdigest()


# -- optional parts -----------------------------------------------------------------------------


def test_service(rendered: dict[str, Rendered]) -> None:
    assert rendered["default"].one("Service")["spec"] == {
        "type": "ClusterIP",
        "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        "selector": SELECTOR,
    }


def test_ingress_with_tls(rendered: dict[str, Rendered]) -> None:
    ingress = rendered["ingress-tls"].one("Ingress")

    assert ingress["metadata"]["annotations"] == {
        "cert-manager.io/cluster-issuer": "letsencrypt",
        "nginx.ingress.kubernetes.io/proxy-body-size": "2m",
    }
    assert ingress["spec"] == {
        "ingressClassName": "nginx",
        "tls": [{"hosts": ["callbacks.example.com"], "secretName": "callbacks-example-com-tls"}],
        "rules": [
            {
                "host": "callbacks.example.com",
                "http": {
                    "paths": [
                        {
                            "path": "/callbacks",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": FULLNAME, "port": {"name": "http"}}},
                        }
                    ]
                },
            }
        ],
    }


def test_hpa(rendered: dict[str, Rendered]) -> None:
    objects = rendered["hpa"]

    assert "replicas" not in objects.deployment["spec"]
    assert objects.one("HorizontalPodAutoscaler")["apiVersion"] == "autoscaling/v2"
    assert objects.one("HorizontalPodAutoscaler")["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": FULLNAME},
        "minReplicas": 2,
        "maxReplicas": 8,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 70},
                },
            },
            {
                "type": "Resource",
                "resource": {
                    "name": "memory",
                    "target": {"type": "Utilization", "averageUtilization": 80},
                },
            },
        ],
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
    }
    assert objects.container["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"memory": "256Mi"},
    }


def test_hpa_needs_a_target_and_a_sane_range() -> None:
    no_target = template_error(
        *set_args(autoscaling__enabled=True, autoscaling__targetCPUUtilizationPercentage=None)
    )
    upside_down = template_error(
        *set_args(autoscaling__enabled=True, autoscaling__minReplicas=5, autoscaling__maxReplicas=3)
    )

    assert "autoscaling is enabled without a target" in no_target
    assert "autoscaling.minReplicas (5) is greater than autoscaling.maxReplicas (3)" in upside_down


@pytest.mark.parametrize(
    ("values", "budget"),
    [
        ({"podDisruptionBudget__enabled": True}, None),
        ({"podDisruptionBudget__enabled": True, "replicaCount": 2}, {"minAvailable": 1}),
        (
            {
                "podDisruptionBudget__enabled": True,
                "replicaCount": 3,
                "podDisruptionBudget__maxUnavailable": "34%",
            },
            {"maxUnavailable": "34%"},
        ),
        ({"podDisruptionBudget__enabled": False, "replicaCount": 3}, None),
        (
            {"podDisruptionBudget__enabled": True, "autoscaling__enabled": True},
            {"minAvailable": 1},
        ),
        (
            {
                "podDisruptionBudget__enabled": True,
                "replicaCount": 3,
                "autoscaling__enabled": True,
                "autoscaling__minReplicas": 1,
            },
            None,
        ),
    ],
)
def test_pdb_only_with_more_than_one_pod(
    values: dict[str, object], budget: dict[str, object] | None
) -> None:
    objects = render(**values)

    if budget is None:
        assert not objects.has("PodDisruptionBudget")
    else:
        assert objects.one("PodDisruptionBudget")["spec"] == {
            **budget,
            "selector": {"matchLabels": SELECTOR},
        }


def test_pdb_ci_values(rendered: dict[str, Rendered]) -> None:
    objects = rendered["pdb"]

    assert objects.deployment["spec"]["replicas"] == 3
    assert objects.one("PodDisruptionBudget")["apiVersion"] == "policy/v1"
    assert objects.one("PodDisruptionBudget")["spec"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": SELECTOR},
    }


def test_service_monitor(rendered: dict[str, Rendered]) -> None:
    """A CRD: the core schemas do not know it, so its fields are checked here."""
    objects = rendered["servicemonitor"]
    monitor = objects.one("ServiceMonitor")

    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["namespace"] == "monitoring"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"] == {
        "namespaceSelector": {"matchNames": [NAMESPACE]},
        "selector": {"matchLabels": SELECTOR},
        "endpoints": [
            {
                "port": "http",
                "path": "/metrics",
                "interval": "15s",
                "scrapeTimeout": "10s",
                "metricRelabelings": [
                    {"sourceLabels": ["__name__"], "regex": "python_gc_.*", "action": "drop"}
                ],
            }
        ],
    }
    service = objects.one("Service")
    assert service["metadata"]["labels"].items() >= SELECTOR.items()
    assert [p["name"] for p in service["spec"]["ports"]] == ["http"]


def test_network_policy(rendered: dict[str, Rendered]) -> None:
    policy = rendered["networkpolicy"].one("NetworkPolicy")

    assert policy["spec"] == {
        "podSelector": {"matchLabels": SELECTOR},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [
            {
                "ports": [{"port": "http", "protocol": "TCP"}],
                "from": [
                    {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}
                        }
                    },
                    {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
                        }
                    },
                    {
                        "podSelector": {
                            "matchLabels": {
                                "app.kubernetes.io/instance": RELEASE,
                                "app.kubernetes.io/component": "helm-test",
                            }
                        }
                    },
                ],
            }
        ],
        "egress": [
            {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
            {
                "to": [
                    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kafka"}}}
                ],
                "ports": [{"port": 9092, "protocol": "TCP"}],
            },
        ],
    }


def test_network_policy_open_by_default_when_enabled() -> None:
    policy = render(networkPolicy__enabled=True).one("NetworkPolicy")

    assert policy["spec"] == {
        "podSelector": {"matchLabels": SELECTOR},
        "policyTypes": ["Ingress"],
        "ingress": [{"ports": [{"port": "http", "protocol": "TCP"}]}],
    }


def test_helm_test_hook(rendered: dict[str, Rendered]) -> None:
    objects = rendered["default"]
    pod = objects.one("Pod", f"{FULLNAME}-test-connection")

    assert pod["metadata"]["annotations"] == {
        "helm.sh/hook": "test",
        "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded",
    }
    assert pod["metadata"]["labels"] == {
        "helm.sh/chart": "video-callback-bridge-0.1.0",
        "app.kubernetes.io/instance": RELEASE,
        "app.kubernetes.io/component": "helm-test",
        "app.kubernetes.io/managed-by": "Helm",
    }
    assert not SELECTOR.items() <= pod["metadata"]["labels"].items()  # not one of the bridge's pods
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["securityContext"] == objects.pod_spec["securityContext"]
    [container] = pod["spec"]["containers"]
    assert container["image"] == objects.container["image"]
    assert container["securityContext"] == objects.container["securityContext"]
    assert container["command"] == [
        "python",
        "-c",
        "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=10)",
        f"http://{FULLNAME}.{NAMESPACE}.svc:80/healthz",
    ]


# -- values: schema and documentation -----------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"config__bogus": 1}, "- at '/config': additional properties 'bogus' not allowed"),
        ({"replicas": 2}, "- at '': additional properties 'replicas' not allowed"),
        (
            {"probes__liveness__path": "/x"},
            "- at '/probes/liveness': additional properties 'path' not allowed",
        ),
        (
            {"securityContext__readOnlyRootFileSystem": True},
            "- at '/securityContext': additional properties 'readOnlyRootFileSystem' not allowed",
        ),
        ({"config__port": "http"}, "- at '/config/port': got string, want integer"),
        ({"replicaCount": "2"}, "- at '/replicaCount': got string, want integer"),
        (
            {"config__allowed_cidrs": "10.0.0.0/8"},
            "- at '/config/allowed_cidrs': got string, want array",
        ),
        (
            {"config__kafka_security_protocol": "TLS"},
            "- at '/config/kafka_security_protocol': value must be one of 'PLAINTEXT', "
            "'SASL_PLAINTEXT', 'SASL_SSL', 'SSL'",
        ),
        (
            {"secrets__auth_tokens": ["short"]},
            "- at '/secrets/auth_tokens/0': minLength: got 5, want 16",
        ),
        (
            {"secrets__auth_tokens": ["a-token-with,comma-inside"]},
            "- at '/secrets/auth_tokens/0': 'a-token-with,comma-inside' does not match pattern "
            "'^[^,]+$'",
        ),
        (
            {"config__produce_timeout_seconds": 0},
            "- at '/config/produce_timeout_seconds': exclusiveMinimum: got 0, want 0",
        ),
    ],
)
def test_schema_rejects_bad_values(values: dict[str, object], message: str) -> None:
    error = template_error(*set_args(**values))

    assert error.startswith(
        "Error: values don't meet the specifications of the schema(s) in the following chart(s):\n"
        "video-callback-bridge:\n"
    )
    assert message in error


def test_lint_reports_schema_errors() -> None:
    done = run_helm("lint", "--strict", str(CHART), *set_args(config__bogus=1))

    assert done.returncode == 1
    assert (
        "[ERROR] values.yaml: - at '/config': additional properties 'bogus' not allowed"
        in done.stdout
    )


def test_schema_closes_every_object_it_defines() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())

    def open_objects(node: dict[str, Any], path: str) -> Iterator[str]:
        if "properties" in node and node.get("additionalProperties") is not False:
            yield path or "/"
        for key, child in node.get("properties", {}).items():
            yield from open_objects(child, f"{path}/{key}")
        if isinstance(node.get("items"), dict):
            yield from open_objects(node["items"], f"{path}[]")

    assert list(open_objects(schema, "")) == []


def test_every_value_is_documented() -> None:
    """helm-docs style: a `# --` comment above every key (list items excepted)."""
    text = (CHART / "values.yaml").read_text()
    lines = text.splitlines()
    undocumented = []

    def walk(node: yaml.Node, path: str) -> None:
        if not isinstance(node, yaml.MappingNode):
            return
        for key, value in node.value:
            line = key.start_mark.line
            above = line - 1
            while (
                above >= 0
                and lines[above].strip().startswith("#")
                and not lines[above].strip().startswith("# --")
            ):
                above -= 1
            if above < 0 or not lines[above].strip().startswith("# --"):
                undocumented.append(f"{path}{key.value}")
            walk(value, f"{path}{key.value}.")

    walk(yaml.compose(text), "")
    assert undocumented == []


# -- NOTES.txt ----------------------------------------------------------------------------------


def test_notes_without_token_warn(notes_chart: Path) -> None:
    text = notes(notes_chart)

    assert (
        f"  Video Upload Callback:    http://{FULLNAME}.{NAMESPACE}.svc:80/callbacks/video-upload/<token>"
        in text
    )
    assert (
        "WARNING: no callback token is configured (secrets.auth_tokens is empty and there is\n"
        in text
    )
    assert "the bridge refuses to start without one" in text
    assert "WARNING: config.kafka_bootstrap_servers is 127.0.0.1:9092" in text


def test_notes_with_ingress_give_the_public_url(notes_chart: Path) -> None:
    text = notes(notes_chart, *value_args([ci_file("ingress-tls")]))

    assert (
        "  Video Upload Callback:    https://callbacks.example.com/callbacks/video-upload/<token>\n"
        in text
    )
    assert (
        "  Material Upload Callback: https://callbacks.example.com/callbacks/material-upload/<token>\n"
        "  Video Transcoding Callback: "
        "https://callbacks.example.com/callbacks/video-transcode/<token>\n"
        "  Media-processing notifyUrl: "
        "https://callbacks.example.com/callbacks/media-processing/<token>\n" in text
    )
    assert (
        f"The tokens are in the Secret {FULLNAME}, key BRIDGE_AUTH_TOKENS (comma-separated):"
        in text
    )
    assert "WARNING" not in text
    assert TOKEN not in text


def test_notes_warn_about_plain_http_ingress(notes_chart: Path) -> None:
    text = notes(notes_chart, *set_args(ingress__enabled=True, secrets__auth_tokens=[TOKEN]))

    assert "http://callbacks.example.com/callbacks/video-upload/<token>" in text
    assert (
        "WARNING: callbacks.example.com has no TLS (ingress.tls): "
        "the token would travel in clear text." in text
    )


def test_notes_warn_when_unauthenticated(notes_chart: Path) -> None:
    text = notes(notes_chart, *set_args(config__allow_unauthenticated=True))

    assert "WARNING: no callback token is configured and config.allow_unauthenticated=true:" in text
    assert "refuses to start" not in text


def test_notes_with_existing_secret(notes_chart: Path) -> None:
    text = notes(notes_chart, *value_args([ci_file("existing-secret")]))

    assert (
        "The tokens are in the Secret video-callback-bridge-credentials, key BRIDGE_AUTH_TOKENS"
        in text
    )
    assert "WARNING" not in text


def test_template_failure_carries_helms_message() -> None:
    with pytest.raises(HelmFailed, match="additional properties 'bogus' not allowed"):
        template(*set_args(config__bogus=1))


def test_readme_install_command_renders() -> None:
    readme = (CHART / "README.md").read_text()
    block = readme.split("## Install\n\n```sh\n", 1)[1].split("```", 1)[0]
    command = shlex.split(block.replace("\\\n", " ").replace("$(openssl rand -hex 24)", TOKEN))

    assert command[:5] == ["helm", "install", "vcb", "helm/video-callback-bridge", "--namespace"]
    args = [arg for arg in command[6:] if arg != "--create-namespace"]
    objects = template(*args)

    assert objects.container["image"] == "registry.example.com/video-callback-bridge:0.1.0"
    assert decoded(objects.one("Secret")) == {"BRIDGE_AUTH_TOKENS": TOKEN}
    assert load_settings(objects.one("ConfigMap")["data"]).kafka_bootstrap_servers == (
        "kafka-bootstrap.kafka.svc:9092"
    )


def test_recreate_strategy_and_an_existing_service_account() -> None:
    objects = render(
        updateStrategy={"type": "Recreate"},
        serviceAccount={"create": False, "name": "bridge-sa", "automount": False},
    )

    assert objects.deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert objects.pod_spec["serviceAccountName"] == "bridge-sa"
    assert not objects.has("ServiceAccount")
    for manifest in objects:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSIONS[-1], strict=True)


# -- reconciliation --------------------------------------------------------------------------------


def test_reconcile_cronjob_runs_the_lookback_with_the_bridges_settings(
    rendered: dict[str, Rendered],
) -> None:
    objects = rendered["reconcile"]
    cronjob = objects.one("CronJob", f"{FULLNAME}-reconcile")
    job = cronjob["spec"]["jobTemplate"]["spec"]
    pod = job["template"]["spec"]
    [container] = pod["containers"]

    assert (cronjob["spec"]["schedule"], cronjob["spec"]["timeZone"]) == ("*/10 * * * *", "Etc/UTC")
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    assert container["args"] == ["reconcile", "--lookback", "1h30m"]
    assert container["envFrom"] == objects.container["envFrom"]
    assert container["env"] == objects.container["env"]
    assert [e["name"] for e in container["env"]] == [
        "BRIDGE_VOD_ACCESS_KEY",
        "BRIDGE_VOD_SECRET_KEY",
    ]
    assert container["securityContext"] == objects.container["securityContext"]
    assert pod["restartPolicy"] == "Never"
    labels = job["template"]["metadata"]["labels"]
    assert {k: labels[k] for k in SELECTOR} != SELECTOR
    environ = {**objects.one("ConfigMap")["data"], **decoded(objects.one("Secret"))}
    settings = load_settings(environ)
    assert (settings.vod_auth_scheme, settings.vod_api_url) == ("cnc", "https://api.cdnetworks.com")
    assert (settings.vod_access_key, settings.vod_secret_key) == (
        "ci-vod-access-key",
        "ci-vod-secret-key",
    )


def test_reconcile_is_off_by_default_and_needs_the_api_credentials(
    rendered: dict[str, Rendered],
) -> None:
    assert not rendered["default"].has("CronJob")
    assert "reconcile.enabled needs secrets.vod_access_key and secrets.vod_secret_key" in (
        template_error("--set", "reconcile.enabled=true")
    )
