"""What the Helm chart's own tests cannot say without Python.

The pod's environment read back by the bridge's own loader, and renders compared with one
another. Everything else about the chart is in its helm-unittest suites
(helm/video-callback-bridge/tests/), run with `helm lint` and the Kubernetes schemas by `make
chart-check`; that its settings and their schema are generated from Settings, in
tests/unit/tools/test_settings_docs.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import yaml  # type: ignore[import-untyped]

import bridge
from bridge.settings import Settings, load_settings, unknown_variables
from tests.helm_tools import (
    CHART,
    NAMESPACE,
    RELEASE,
    REPO,
    Rendered,
    run_helm,
    template,
)

VALUES: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
# The settings the chart keeps in a Secret.
SECRETS = [name for name in VALUES["secrets"] if name != "existingSecret"]
TOKEN = "ci-token-0123456789abcdef"


pytestmark = pytest.mark.usefixtures("helm_installed")


def settings_given(variant: str) -> dict[str, Any]:
    """The settings that values.yaml and a ci/ variant give, as the bridge names them."""
    given = {**VALUES["config"], **VALUES["secrets"]}
    if variant != "default":
        values = yaml.safe_load((CHART / "ci" / f"{variant}-values.yaml").read_text())
        given |= {**values.get("config", {}), **values.get("secrets", {})}
    del given["existingSecret"]
    return given


def render(variant: str) -> Rendered:
    if variant == "default":
        return template()
    return template("--values", str(CHART / "ci" / f"{variant}-values.yaml"))


def decoded(secret: dict[str, Any]) -> dict[str, str]:
    return {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}


# -- the values reach the bridge --------------------------------------------------------------


def test_app_version_is_the_bridges() -> None:
    assert yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"] == bridge.__version__


def test_full_config_moves_every_setting_from_its_default() -> None:
    """So that the next test proves that each one reaches the bridge."""
    given = msgspec.convert(settings_given("full-config"), Settings)
    defaults = Settings()

    assert [
        field.name
        for field in msgspec.structs.fields(Settings)
        if getattr(given, field.name) == getattr(defaults, field.name)
    ] == []


@pytest.mark.parametrize("variant", ["default", "full-config"])
def test_the_pod_reads_back_the_settings_given(variant: str) -> None:
    """The pod's environment (ConfigMap + Secret), read by the bridge's own loader."""
    objects = render(variant)
    config = objects.one("ConfigMap")["data"]
    secret = decoded(objects.one("Secret")) if objects.has("Secret") else {}
    referenced = [e["valueFrom"]["secretKeyRef"]["key"] for e in objects.container.get("env", [])]
    environ = {**config, **secret}

    assert unknown_variables(environ) == []
    assert load_settings(environ) == msgspec.convert(settings_given(variant), Settings)
    # Each credential is in the Secret and referenced from there, none in the ConfigMap.
    assert sorted(referenced) == sorted(secret)
    assert not {f"BRIDGE_{name.upper()}" for name in SECRETS} & set(config)
    shown = json.dumps(config)
    assert [part for value in secret.values() for part in value.split(",") if part in shown] == []


def test_startup_probe_outlasts_the_kafka_wait() -> None:
    startup = VALUES["probes"]["startup"]

    assert (
        startup["periodSeconds"] * startup["failureThreshold"]
        > 2 * Settings().startup_timeout_seconds
    )


def test_the_pods_run_as_the_images_user() -> None:
    user = re.search(r"^USER (\d+):(\d+)$", (REPO / "deploy" / "Dockerfile").read_text(), re.M)
    assert user is not None

    for context in (VALUES["podSecurityContext"], VALUES["securityContext"]):
        assert (context["runAsUser"], context["runAsGroup"]) == (int(user[1]), int(user[2]))


# -- renders compared ---------------------------------------------------------------------------


def checksums(*args: str) -> dict[str, str]:
    annotations: dict[str, str] = template(*args).deployment["spec"]["template"]["metadata"][
        "annotations"
    ]
    return annotations


def test_checksums_roll_the_pods_when_what_they_sum_changes() -> None:
    base = checksums()
    setting = checksums("--set", "config.log_level=debug")
    token = checksums("--set", f"secrets.auth_tokens={{{TOKEN}}}")
    ca = checksums("--set", "config.kafka_security_protocol=SSL,kafkaTls.ca.existingSecret=ca")

    assert set(base) == {"checksum/config", "checksum/secret"}
    assert setting["checksum/config"] != base["checksum/config"]
    assert setting["checksum/secret"] == base["checksum/secret"]
    assert token["checksum/config"] == base["checksum/config"]
    assert token["checksum/secret"] != base["checksum/secret"]
    assert ca["checksum/secret"] != base["checksum/secret"]


def test_the_config_checksum_is_that_of_the_configmap() -> None:
    done = run_helm(
        "template", RELEASE, str(CHART), "--namespace", NAMESPACE,
        "--show-only", "templates/configmap.yaml",
    )  # fmt: skip
    text = done.stdout.split("# Source: video-callback-bridge/templates/configmap.yaml\n", 1)[1]

    assert checksums()["checksum/config"] == hashlib.sha256(text.encode()).hexdigest()


# -- values.yaml and values.schema.json as documents ----------------------------------------------


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
            above = key.start_mark.line - 1
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


def test_the_readmes_install_command_renders() -> None:
    readme = (CHART / "README.md").read_text()
    block = readme.split("## Install\n\n```sh\n", 1)[1].split("```", 1)[0]
    command = shlex.split(block.replace("\\\n", " ").replace("$(openssl rand -hex 24)", TOKEN))

    assert command[:5] == ["helm", "install", "vcb", "helm/video-callback-bridge", "--namespace"]
    objects = template(*[arg for arg in command[6:] if arg != "--create-namespace"])

    assert objects.container["image"] == "registry.example.com/video-callback-bridge:0.1.0"
    assert decoded(objects.one("Secret")) == {"BRIDGE_AUTH_TOKENS": TOKEN}
    assert load_settings(objects.one("ConfigMap")["data"]).kafka_bootstrap_servers == (
        "kafka-bootstrap.kafka.svc:9092"
    )
