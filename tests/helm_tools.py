"""Helm for the Python chart tests: the pinned binary that `make tools` builds, and a renderer."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml  # type: ignore[import-untyped]

REPO = Path(__file__).resolve().parent.parent
CHART = REPO / "helm" / "video-callback-bridge"
HELM = REPO / ".tools" / "bin" / "helm"
RELEASE = "vcb"
NAMESPACE = "video"
FULLNAME = "vcb-video-callback-bridge"

Manifest = dict[str, Any]


class HelmMissing(RuntimeError):
    pass


class HelmFailed(RuntimeError):
    """helm exited non-zero; the message is its standard error."""


def helm_binary() -> Path:
    if not HELM.is_file():
        raise HelmMissing(
            f"helm is not installed at {HELM.relative_to(REPO)}: run `make tools` "
            "(builds the pinned version with `go install`)"
        )
    return HELM


def run_helm(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(helm_binary()), *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def value_args(files: Sequence[Path] = (), values: Mapping[str, str] | None = None) -> list[str]:
    """`-f` and `--set-json` arguments; `values` maps a dotted key to a JSON value."""
    args: list[str] = []
    for file in files:
        args += ["--values", str(file)]
    for key, value in (values or {}).items():
        args += ["--set-json", f"{key}={value}"]
    return args


@dataclass(frozen=True)
class Rendered:
    """The manifests of one `helm template`, looked up by kind (and name)."""

    manifests: list[Manifest]

    def __iter__(self) -> Iterator[Manifest]:
        return iter(self.manifests)

    def kinds(self) -> list[tuple[str, str]]:
        return sorted((m["kind"], m["metadata"]["name"]) for m in self.manifests)

    def all(self, kind: str) -> list[Manifest]:
        return [m for m in self.manifests if m["kind"] == kind]

    def one(self, kind: str, name: str = FULLNAME) -> Manifest:
        found = [m for m in self.all(kind) if m["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name}, rendered: {self.kinds()}"
        return found[0]

    def has(self, kind: str) -> bool:
        return bool(self.all(kind))

    @property
    def deployment(self) -> Manifest:
        return self.one("Deployment")

    @property
    def pod_spec(self) -> dict[str, Any]:
        return cast(dict[str, Any], self.deployment["spec"]["template"]["spec"])

    @property
    def container(self) -> dict[str, Any]:
        containers = self.pod_spec["containers"]
        assert [c["name"] for c in containers] == ["bridge"]
        return cast(dict[str, Any], containers[0])


def template(*args: str) -> Rendered:
    """`helm template` of the chart as release `vcb` in namespace `video`; raises on failure."""
    done = run_helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args)
    if done.returncode != 0:
        raise HelmFailed(done.stderr.strip())
    return Rendered([m for m in yaml.safe_load_all(done.stdout) if m])
