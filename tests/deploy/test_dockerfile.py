"""The project's decisions about its image (deploy/Dockerfile, .dockerignore, the lock file)
and deploy/compose.yaml, checked without a container engine.

Good Dockerfile practice is hadolint's (`make lint`); these tests hold what a linter cannot
know: which base, what the builder installs, what the final stage holds and runs, what the
build context lets in. What an engine does with them: tests/deploy/test_containers.py (`make
container-test`).
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml  # type: ignore[import-untyped]
from docker.utils.build import PatternMatcher, exclude_paths  # type: ignore[import-untyped]
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from bridge.settings import Settings, load_settings, unknown_variables

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "deploy" / "Dockerfile"
LOCK = REPO / "deploy" / "requirements.lock"
COMPOSE = REPO / "deploy" / "compose.yaml"
COMPOSE_SCHEMA = REPO / ".tools" / "share" / "compose-spec.json"
# What the image is built from, besides the package itself.
CONTEXT_FILES = {"pyproject.toml", "README.md", "deploy/requirements.lock"}


# -- the Dockerfile -----------------------------------------------------------------------------


def stages() -> list[list[str]]:
    """Each build stage's instructions, one a line (continuations joined), FROM first."""
    joined = re.sub(r"\s*\\\n\s*", " ", DOCKERFILE.read_text())
    result: list[list[str]] = []
    for line in (line.strip() for line in joined.splitlines()):
        if line.startswith("FROM "):
            result.append([line])
        elif result and line and not line.startswith("#"):
            result[-1].append(line)
    return result


def instructions(stage: list[str], keyword: str) -> list[str]:
    return [line.removeprefix(f"{keyword} ") for line in stage if line.startswith(f"{keyword} ")]


def test_two_stages_on_one_pinned_slim_python() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    base = re.search(
        r"^ARG BASE_IMAGE=python:(\d+\.\d+\.\d+)-slim-bookworm$", DOCKERFILE.read_text(), re.M
    )
    assert base is not None

    assert [stage[0] for stage in stages()] == [
        "FROM ${BASE_IMAGE} AS builder",
        "FROM ${BASE_IMAGE}",
    ]
    assert base.group(1) in SpecifierSet(pyproject["project"]["requires-python"])


def test_the_builder_installs_the_locked_wheels_and_resolves_nothing() -> None:
    runs = " && ".join(instructions(stages()[0], "RUN"))
    installs = re.findall(r"pip --python /opt/bridge/bin/python install ([^&]+)", runs)

    assert len(installs) == 2
    assert all("--no-deps" in install for install in installs)
    assert "--only-binary=:all: --requirement deploy/requirements.lock" in installs[0]
    assert "pip --python /opt/bridge/bin/python check" in runs


def test_the_final_stage_holds_the_virtualenv_and_nothing_to_build_with() -> None:
    final = stages()[-1]

    assert instructions(final, "COPY") == ["--from=builder /opt/bridge /opt/bridge"]
    assert re.findall(r"\b(pip|apt-get|gcc|build-essential)\b", " ".join(final)) == []


def test_the_final_stage_runs_the_bridge_as_a_numeric_user() -> None:
    final = stages()[-1]
    env = dict(
        word.split("=", 1) for line in instructions(final, "ENV") for word in shlex.split(line)
    )

    # The bridge's own default is 127.0.0.1; bytecode is not written on a read-only root.
    assert env == {
        "PATH": "/opt/bridge/bin:$PATH",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "BRIDGE_HOST": "0.0.0.0",
    }
    # The chart's pods run as the same user: tests/deploy/test_chart.py.
    assert instructions(final, "USER") == ["10001:10001"]
    assert instructions(final, "EXPOSE") == ["8080"]
    assert final[-2:] == ['ENTRYPOINT ["bridge"]', 'CMD ["serve"]']
    [healthcheck] = instructions(final, "HEALTHCHECK")
    assert healthcheck.startswith("--interval=10s --timeout=3s --start-period=30s --retries=3 CMD ")
    assert "/healthz" in healthcheck


# -- the lock file ---------------------------------------------------------------------------------


def locked() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, version = line.partition("==")
        assert re.fullmatch(r"[a-z0-9-]+", name) and re.fullmatch(
            r"[0-9][0-9A-Za-z.+-]*", version
        ), line
        pins[name] = version
    return pins


def test_lock_pins_every_runtime_dependency_and_nothing_else() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "deploy" / "tools" / "requirements_lock.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    needed = [line.split("==")[0] for line in done.stdout.splitlines() if "==" in line]

    assert list(locked()) == needed, (
        "deploy/requirements.lock is out of date: "
        ".venv/bin/python deploy/tools/requirements_lock.py > deploy/requirements.lock"
    )
    assert done.stdout.startswith(LOCK.read_text().split("aiokafka==", 1)[0])  # same header


def test_locked_versions_satisfy_the_project_requirements() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    pins = locked()

    for line in pyproject["project"]["dependencies"]:
        requirement = Requirement(line)
        version = pins[canonicalize_name(requirement.name)]
        assert version in requirement.specifier, f"{requirement.name}=={version} is not {line}"


# -- the build context, by Docker's own .dockerignore rules (docker-py) ---------------------------


def dockerignore() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_build_context_is_the_package_and_its_metadata() -> None:
    context = {path for path in exclude_paths(str(REPO), dockerignore()) if (REPO / path).is_file()}
    package = {
        str(path.relative_to(REPO))
        for path in (REPO / "bridge").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }

    assert "bridge/py.typed" in package
    # The engine reads .dockerignore itself; docker-py counts it in.
    assert context - {".dockerignore"} == package | CONTEXT_FILES


def test_build_context_leaves_out_secrets_and_caches() -> None:
    left_out = PatternMatcher(dockerignore()).matches

    assert [
        path
        for path in (
            ".env",
            ".git/HEAD",
            ".venv/bin/python",
            ".tools/bin/helm",
            "tests/unit/http/test_app.py",
            "bridge/__pycache__/app.cpython-311.pyc",
            "bridge/.mypy_cache/3.11/bridge/app.data.json",
        )
        if not left_out(path)
    ] == []


def test_everything_the_dockerfile_copies_is_in_the_context() -> None:
    left_out = PatternMatcher(dockerignore()).matches
    sources = [
        source
        for stage in stages()
        for copy in instructions(stage, "COPY")
        if not copy.startswith("--from=")
        for source in copy.split()[:-1]
    ]

    assert sources == ["deploy/requirements.lock", "pyproject.toml", "README.md", "bridge"]
    for source in sources:
        assert (REPO / source).exists(), source
        assert not left_out(source), source


# -- deploy/compose.yaml -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    if not COMPOSE_SCHEMA.is_file():
        pytest.fail(
            f"{COMPOSE_SCHEMA.relative_to(REPO)} is missing: run `make tools`", pytrace=False
        )
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)

    assert [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(compose)
    ] == []


def test_compose_kafka_is_a_single_kraft_node_like_the_local_one(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    env = kafka["environment"]
    pom = (REPO / "deploy" / "kafka" / "pom.xml").read_text()
    local_version = re.search(r"<kafka.version>(4\.[0-9.]+)</kafka.version>", pom)
    assert local_version is not None

    assert kafka["image"] == f"apache/kafka:{local_version.group(1)}"  # as `make run` uses
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert len(base64.urlsafe_b64decode(env["CLUSTER_ID"] + "==")) == 16
    # The bridge creates its topics, as on a managed cluster.
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["KAFKA_ADVERTISED_LISTENERS"] == (
        "PLAINTEXT://kafka:9092,HOST://127.0.0.1:${VCB_KAFKA_PORT:-9094}"
    )
    assert kafka["ports"] == ["127.0.0.1:${VCB_KAFKA_PORT:-9094}:9094"]
    assert kafka["volumes"] == [f"kafka-data:{env['KAFKA_LOG_DIRS']}"]
    assert compose["volumes"] == {"kafka-data": None}


def test_compose_bridge_is_built_and_wired_to_kafka(compose: dict[str, Any]) -> None:
    bridge = compose["services"]["bridge"]
    build = bridge["build"]
    env = bridge["environment"]

    assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    assert build["context"] == ".."  # the repository, for .dockerignore
    assert bridge["image"] == "${VCB_IMAGE:-video-callback-bridge:local}"
    # Not service_healthy: the bridge waits for Kafka itself (tests/deploy/test_containers.py).
    assert bridge["depends_on"] == {"kafka": {"condition": "service_started"}}
    assert bridge["ports"] == ["127.0.0.1:${VCB_HTTP_PORT:-8080}:8080"]
    assert unknown_variables(env) == []
    settings = load_settings(env)
    assert (settings.create_topics, settings.topic_replication_factor) == (True, 1)
    assert settings.allow_unauthenticated is True
    assert (
        f"PLAINTEXT://{settings.kafka_bootstrap_servers}"
        in compose["services"]["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    )


def test_compose_bridge_runs_like_in_kubernetes(compose: dict[str, Any]) -> None:
    bridge = compose["services"]["bridge"]

    assert bridge["read_only"] is True
    assert bridge["tmpfs"] == ["/tmp"]  # noqa: S108 - the container's own /tmp
    assert bridge["cap_drop"] == ["ALL"]
    assert bridge["security_opt"] == ["no-new-privileges:true"]
    assert "/readyz" in bridge["healthcheck"]["test"][-1]
    grace = re.fullmatch(r"(\d+)s", bridge["stop_grace_period"])
    assert grace is not None
    assert int(grace.group(1)) > Settings().shutdown_grace_seconds
