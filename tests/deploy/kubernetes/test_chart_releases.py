"""The chart on a real API server: every variant installed, upgraded, rolled back and
uninstalled in a namespace that enforces the `restricted` Pod Security level.

`make chart-test` runs this module; `make test` leaves it out (marker `kubernetes`).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, cast

import pytest
import yaml  # type: ignore[import-untyped]

from tests.deploy.kubernetes.kube import Kube, Manifest
from tests.helm_tools import CHART, FULLNAME, RELEASE

pytestmark = pytest.mark.kubernetes

VARIANTS: dict[str, Path | None] = {
    "default": None,
    **{path.stem.removesuffix("-values"): path for path in sorted((CHART / "ci").glob("*.yaml"))},
}
CHART_DEFAULTS: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())

# The upgrade changes one setting and rotates the callback token.
CHANGED_SETTING = "retry_after_seconds"
CHANGED_VALUE = 7
ROTATED_TOKEN = "rotated-token-5f0c7d2a9e41b386"
# Pods that a workload of each kind makes, and where its template is.
POD_TEMPLATES = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


def values_of(variant: str) -> dict[str, Any]:
    path = VARIANTS[variant]
    return cast(dict[str, Any], yaml.safe_load(path.read_text())) if path else {}


def value_files(variant: str) -> list[str]:
    path = VARIANTS[variant]
    return ["--values", str(path)] if path else []


def namespace_for(kube: Kube, namespace: str, variant: str | None = None) -> str:
    kube.create_namespace(namespace)
    # The ServiceMonitor variant puts its ServiceMonitor where Prometheus looks for it.
    service_monitor_namespace = (
        values_of(variant).get("serviceMonitor", {}).get("namespace") if variant else None
    )
    if service_monitor_namespace:
        kube.create_namespace(service_monitor_namespace)
    return namespace


def setting(kube: Kube, namespace: str, name: str) -> str:
    config_map = kube.get("configmap", FULLNAME, namespace)
    assert config_map is not None, f"no ConfigMap {FULLNAME} in {namespace}"
    return cast(str, config_map["data"][f"BRIDGE_{name.upper()}"])


def secret_value(kube: Kube, namespace: str, name: str) -> str | None:
    """A credential in the chart's own Secret; None when it is not there (or no Secret is)."""
    secret = kube.get("secret", FULLNAME, namespace)
    encoded = (secret or {}).get("data", {}).get(f"BRIDGE_{name.upper()}")
    return base64.b64decode(encoded).decode() if encoded else None


def pod_annotations(kube: Kube, namespace: str) -> dict[str, str]:
    deployment = kube.get("deployment", FULLNAME, namespace)
    assert deployment is not None, f"no Deployment {FULLNAME} in {namespace}"
    return cast(dict[str, str], deployment["spec"]["template"]["metadata"]["annotations"])


def release_objects(kube: Kube, namespace: str) -> list[str]:
    """The objects of the release's manifest as found on the server, `kind/name`."""
    manifest = kube.helm("get", "manifest", RELEASE, "--namespace", namespace).stdout
    done = kube.kubectl("get", "--filename=-", "--output=name", stdin=manifest)
    return sorted(done.stdout.split())


def pods_of(manifests: list[Manifest], namespace: str) -> list[Manifest]:
    """Each pod template (and each Pod, such as the `helm test` hook) as a Pod to submit."""
    pods: list[Manifest] = []
    for manifest in manifests:
        if manifest["kind"] == "Pod":
            pods.append(manifest)
        elif manifest["kind"] in POD_TEMPLATES:
            template = manifest
            for key in POD_TEMPLATES[manifest["kind"]]:
                template = template[key]
            pods.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": manifest["metadata"]["name"], **template["metadata"]},
                    "spec": template["spec"],
                }
            )
    for pod in pods:
        pod["metadata"]["namespace"] = namespace
    return pods


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_pod_template_is_admitted_under_restricted(kube: Kube, variant: str) -> None:
    """Each pod the release would run, submitted as a Pod (a Deployment only gets a warning).

    Submitted from an installed release: Pods are admitted only with their ServiceAccount.
    """
    namespace = namespace_for(kube, f"pods-{variant}", variant)
    kube.helm("install", RELEASE, str(CHART), "--namespace", namespace, *value_files(variant))
    manifests = [
        manifest
        for part in ("manifest", "hooks")
        for manifest in yaml.safe_load_all(
            kube.helm("get", part, RELEASE, "--namespace", namespace).stdout
        )
        if manifest
    ]
    pods = pods_of(manifests, namespace)
    # The reconcile variant adds its CronJob's pod.
    expected = [FULLNAME, f"{FULLNAME}-test-connection"]
    if variant == "reconcile":
        expected.append(f"{FULLNAME}-reconcile")
    assert sorted(p["metadata"]["name"] for p in pods) == sorted(expected)
    for pod in pods:
        done = kube.kubectl("create", "--dry-run=server", "--filename=-", stdin=json.dumps(pod))
        assert done.stdout == f"pod/{pod['metadata']['name']} created (server dry run)\n"
        assert done.stderr == "", f"warnings for {pod['metadata']['name']}: {done.stderr}"
    kube.helm("uninstall", RELEASE, "--namespace", namespace)


def test_a_non_compliant_pod_template_is_refused(kube: Kube) -> None:
    """The check bites: a container that may escalate privileges is warned of, and refused."""
    namespace = namespace_for(kube, "non-compliant")
    escalates = ["--set", "securityContext.allowPrivilegeEscalation=true"]
    violation = (
        'PodSecurity "restricted:latest": allowPrivilegeEscalation != false '
        '(container "bridge" must set securityContext.allowPrivilegeEscalation=false)'
    )
    # A Deployment is stored but warned of: the warning the other releases must not get
    # (helm logs it with the quotes escaped).
    done = kube.helm("install", RELEASE, str(CHART), "--namespace", namespace, *escalates)
    warning = f"Warning: would violate {violation}".replace('"', '\\"')
    assert warning in done.stderr
    manifest = kube.helm("get", "manifest", RELEASE, "--namespace", namespace).stdout
    (pod,) = [
        pod
        for pod in pods_of([m for m in yaml.safe_load_all(manifest) if m], namespace)
        if pod["metadata"]["name"] == FULLNAME
    ]
    error = kube.kubectl_error("create", "--dry-run=server", "--filename=-", stdin=json.dumps(pod))
    assert error == (
        f'Error from server (Forbidden): error when creating "STDIN": pods "{FULLNAME}" is '
        f"forbidden: violates {violation}"
    )
    kube.helm("uninstall", RELEASE, "--namespace", namespace)


@pytest.mark.parametrize("variant", VARIANTS)
def test_install_upgrade_rollback_uninstall(kube: Kube, variant: str) -> None:
    namespace = namespace_for(kube, f"chart-{variant}", variant)
    values = values_of(variant)
    files = value_files(variant)
    own_secret = not values.get("secrets", {}).get("existingSecret")
    tokens = ",".join(values.get("secrets", {}).get("auth_tokens", [])) or None
    config = {**CHART_DEFAULTS["config"], **values.get("config", {})}
    original = str(config[CHANGED_SETTING])
    assert original != str(CHANGED_VALUE)

    def helm(*args: str) -> None:
        done = kube.helm(*args, "--namespace", namespace)
        assert done.stderr == "", f"helm {args[0]} of {variant} said: {done.stderr}"

    helm("install", RELEASE, str(CHART), *files)
    installed_objects = release_objects(kube, namespace)
    assert f"deployment.apps/{FULLNAME}" in installed_objects
    assert setting(kube, namespace, CHANGED_SETTING) == original
    if own_secret:
        assert secret_value(kube, namespace, "auth_tokens") == tokens
    installed = pod_annotations(kube, namespace)

    rotation = ["--set-json", f'secrets.auth_tokens=["{ROTATED_TOKEN}"]'] if own_secret else []
    helm(
        "upgrade", RELEASE, str(CHART), *files,
        "--set-json", f"config.{CHANGED_SETTING}={CHANGED_VALUE}", *rotation,
    )  # fmt: skip
    assert setting(kube, namespace, CHANGED_SETTING) == str(CHANGED_VALUE)
    upgraded = pod_annotations(kube, namespace)
    assert upgraded["checksum/config"] != installed["checksum/config"]
    if own_secret:
        assert secret_value(kube, namespace, "auth_tokens") == ROTATED_TOKEN
        assert upgraded["checksum/secret"] != installed["checksum/secret"]
    else:
        assert upgraded["checksum/secret"] == installed["checksum/secret"]

    helm("rollback", RELEASE, "1")
    assert setting(kube, namespace, CHANGED_SETTING) == original
    if own_secret:
        # Without tokens of its own, the Secret came with the upgrade: rolling back removes it.
        assert secret_value(kube, namespace, "auth_tokens") == tokens
    assert pod_annotations(kube, namespace) == installed
    assert release_objects(kube, namespace) == installed_objects
    history = json.loads(kube.helm("history", RELEASE, "--namespace", namespace, "-ojson").stdout)
    assert [(h["revision"], h["status"]) for h in history] == [
        (1, "superseded"),
        (2, "superseded"),
        (3, "deployed"),
    ]

    helm("uninstall", RELEASE)
    # Only what was there before the release.
    assert kube.names(namespace) == ["serviceaccount/default"]
    monitoring = values.get("serviceMonitor", {}).get("namespace")
    if monitoring:
        assert kube.names(monitoring) == ["serviceaccount/default"]
