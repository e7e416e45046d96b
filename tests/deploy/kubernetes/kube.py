"""kubectl and helm against one cluster, with helm's own state kept out of $HOME."""

from __future__ import annotations

import functools
import json
import os
import ssl
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml  # type: ignore[import-untyped]

from tests.deploy.kubernetes.apiserver import Tools

Manifest = dict[str, Any]

# REST paths of the kinds the tests read: (API group/version, resource, namespaced).
RESOURCES = {
    "configmap": ("api/v1", "configmaps", True),
    "secret": ("api/v1", "secrets", True),
    "service": ("api/v1", "services", True),
    "node": ("api/v1", "nodes", False),
    "deployment": ("apis/apps/v1", "deployments", True),
}


class CommandFailed(RuntimeError):
    """kubectl or helm exited non-zero; the message has its standard error."""


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Kube:
    kubeconfig: Path
    home: Path
    tools: Tools

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            KUBECONFIG=str(self.kubeconfig),
            HELM_CACHE_HOME=str(self.home / "cache"),
            HELM_CONFIG_HOME=str(self.home / "config"),
            HELM_DATA_HOME=str(self.home / "data"),
        )
        return env

    def _run(self, argv: list[str], stdin: str | None, check: bool) -> Done:
        done = subprocess.run(
            argv,
            input=stdin,
            env=self._env(),
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        if check and done.returncode != 0:
            raise CommandFailed(f"{' '.join(argv[:3])} ... failed: {done.stderr.strip()}")
        return Done(done.returncode, done.stdout, done.stderr)

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> Done:
        return self._run([str(self.tools.kube("kubectl")), *args], stdin, check)

    def helm(self, *args: str, check: bool = True) -> Done:
        return self._run([str(self.tools.helm), *args], None, check)

    def kubectl_error(self, *args: str, stdin: str | None = None) -> str:
        """The standard error of a kubectl command that must fail."""
        argv = [str(self.tools.kube("kubectl")), *args]
        done = subprocess.run(
            argv, input=stdin, env=self._env(), capture_output=True, text=True, check=False
        )
        assert done.returncode != 0, f"kubectl {' '.join(args)} succeeded but should have failed"
        return done.stderr.strip()

    # Reads go to the REST API directly: a kubectl process per read costs far more.

    @functools.cached_property
    def _client(self) -> tuple[str, str, ssl.SSLContext]:
        config = yaml.safe_load(self.kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        token = config["users"][0]["user"]["token"]
        context = ssl.create_default_context(cafile=cluster["certificate-authority"])
        return cluster["server"], token, context

    def api(self, path: str) -> Manifest | None:
        """GET one REST path; None when there is nothing there (404)."""
        server, token, context = self._client
        # An https URL of the cluster's own kubeconfig.
        request = urllib.request.Request(  # noqa: S310
            f"{server}/{path}", headers={"Authorization": f"Bearer {token}"}
        )
        try:
            with urllib.request.urlopen(request, context=context, timeout=30) as answer:  # noqa: S310
                return cast(Manifest, json.load(answer))
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise

    def get(self, kind: str, name: str, namespace: str) -> Manifest | None:
        """The object, or None when there is none."""
        version, resource, namespaced = RESOURCES[kind]
        where = f"namespaces/{namespace}/" if namespaced else ""
        return self.api(f"{version}/{where}{resource}/{name}")

    def names(self, namespace: str) -> list[str]:
        """Every object in the namespace, of every listable kind, as `kind[.group]/name`."""
        versions = ["api/v1"] + [
            f"apis/{group['preferredVersion']['groupVersion']}"
            for group in (self.api("apis") or {}).get("groups", [])
        ]
        found: list[str] = []
        for version in versions:
            group = version.split("/")[1] if version.startswith("apis/") else ""
            for resource in (self.api(version) or {}).get("resources", []):
                listable = resource["namespaced"] and "list" in resource["verbs"]
                # Events are the server's record of what happened, not objects of a release.
                if not listable or "/" in resource["name"] or resource["name"] == "events":
                    continue
                listed = self.api(f"{version}/namespaces/{namespace}/{resource['name']}") or {}
                kind = resource["kind"].lower() + (f".{group}" if group else "")
                found += [f"{kind}/{item['metadata']['name']}" for item in listed.get("items", [])]
        return sorted(found)

    def create_namespace(self, name: str, pod_security: str = "restricted") -> None:
        """A namespace that enforces (and warns about) a Pod Security level.

        With its `default` ServiceAccount, which a controller manager would add (pods
        are admitted only with their ServiceAccount).
        """
        labels = {
            "pod-security.kubernetes.io/enforce": pod_security,
            "pod-security.kubernetes.io/enforce-version": "latest",
            "pod-security.kubernetes.io/warn": pod_security,
            "pod-security.kubernetes.io/warn-version": "latest",
        }
        objects = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}},
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "default", "namespace": name},
            },
        ]
        # Server-side: a controller manager may add the ServiceAccount at the same moment.
        self.kubectl(
            "apply",
            "--server-side",
            "--filename=-",
            stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}),
        )
