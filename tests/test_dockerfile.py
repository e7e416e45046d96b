"""The container image (deploy/Dockerfile, .dockerignore, the lock file) and deploy/compose.yaml.

No container engine is needed: the Dockerfile is linted with hadolint and read instruction by
instruction, the build context is computed from .dockerignore, and the compose file is validated
against the Compose Specification's JSON Schema (fetched by `make tools`). What an engine does
with them is tested in tests/test_containers.py (`make container-test`).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml  # type: ignore[import-untyped]
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from bridge.settings import Settings, load_settings, unknown_variables

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "deploy" / "Dockerfile"
KAFKA_DOCKERFILE = REPO / "deploy" / "kafka" / "image" / "Dockerfile"
LOCK = REPO / "deploy" / "requirements.lock"
COMPOSE = REPO / "deploy" / "compose.yaml"
COMPOSE_SCHEMA = REPO / ".tools" / "share" / "compose-spec.json"
HADOLINT = Path(sys.executable).parent / "hadolint"
BASE_IMAGE = "python:3.11.14-slim-bookworm"


# -- the Dockerfile, read instruction by instruction ----------------------------------------------


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for instruction, args in self.instructions if instruction == keyword]


def stages(text: str) -> list[Stage]:
    """The build stages, each with its instructions (continuation lines joined)."""
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    result: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        args = re.sub(r"\s+", " ", args.strip())
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            result.append(Stage(words[0], name))
        elif result:
            result[-1].instructions.append((keyword, args))
    return result


@pytest.fixture(scope="module")
def build() -> list[Stage]:
    return stages(DOCKERFILE.read_text())


@pytest.mark.parametrize("dockerfile", [DOCKERFILE, KAFKA_DOCKERFILE], ids=["bridge", "kafka"])
def test_hadolint_finds_nothing(dockerfile: Path) -> None:
    if not HADOLINT.is_file():
        pytest.fail(f"hadolint is not installed next to {sys.executable}: run `make install`")
    done = subprocess.run(
        [str(HADOLINT), "--format", "json", str(dockerfile)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout) == []


def test_hadolint_does_report_bad_practice() -> None:
    bad = "FROM python\nRUN pip install flask\nUSER root\nCMD python app.py\n"
    done = subprocess.run(
        [str(HADOLINT), "--format", "json", "-"],
        input=bad,
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 1
    assert sorted({finding["code"] for finding in json.loads(done.stdout)}) == [
        "DL3002",  # last USER should not be root
        "DL3006",  # image without a tag
        "DL3013",  # pip packages without versions
        "DL3025",  # CMD not in JSON form
        "DL3042",  # pip without --no-cache-dir
        "DL3066",  # USER not numeric
    ]


def test_two_stages_on_the_same_pinned_slim_base(build: list[Stage]) -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    version = re.fullmatch(r"python:(\d+\.\d+\.\d+)-slim-bookworm", BASE_IMAGE)
    assert version is not None
    before_first_stage = DOCKERFILE.read_text().split("\nFROM ", 1)[0].splitlines()

    assert [line for line in before_first_stage if line.startswith("ARG ")] == [
        f"ARG BASE_IMAGE={BASE_IMAGE}"
    ]
    assert [(stage.image, stage.name) for stage in build] == [
        ("${BASE_IMAGE}", "builder"),
        ("${BASE_IMAGE}", None),
    ]
    assert version.group(1) in SpecifierSet(pyproject["project"]["requires-python"])


def test_builder_installs_exactly_the_locked_wheels(build: list[Stage]) -> None:
    builder = build[0]
    runs = builder.all("RUN")

    assert runs == [
        "python -m venv --without-pip /opt/bridge",
        "pip --python /opt/bridge/bin/python install --no-cache-dir --no-deps "
        "--only-binary=:all: --requirement deploy/requirements.lock",
        "pip wheel --no-cache-dir --no-deps --wheel-dir /tmp/wheels . "
        "&& pip --python /opt/bridge/bin/python install --no-cache-dir --no-deps "
        "/tmp/wheels/*.whl && pip --python /opt/bridge/bin/python check",
    ]
    assert builder.all("COPY") == [
        "deploy/requirements.lock deploy/requirements.lock",
        "pyproject.toml README.md ./",
        "bridge ./bridge",
    ]
    assert "PIP_NO_CACHE_DIR=1" in shlex.split(builder.all("ENV")[0])


def test_final_stage_holds_the_virtualenv_and_nothing_to_build_with(build: list[Stage]) -> None:
    final = build[-1]

    assert final.all("COPY") == ["--from=builder /opt/bridge /opt/bridge"]
    assert final.all("RUN") == [
        "groupadd --system --gid 10001 bridge && useradd --system --uid 10001 --gid 10001 "
        "--no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin bridge"
    ]
    for forbidden in ("pip", "apt-get", "gcc", "build-essential", "cache"):
        assert not any(forbidden in run for run in final.all("RUN")), forbidden


def test_final_stage_runtime(build: list[Stage]) -> None:
    final = build[-1]
    env = dict(word.split("=", 1) for args in final.all("ENV") for word in shlex.split(args))

    assert env == {
        "PATH": "/opt/bridge/bin:$PATH",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "BRIDGE_HOST": "0.0.0.0",
    }
    assert final.all("USER") == ["10001:10001"]
    assert final.all("EXPOSE") == ["8080"]
    assert json.loads(final.all("ENTRYPOINT")[0]) == ["bridge"]
    assert json.loads(final.all("CMD")[0]) == ["serve"]
    assert [keyword for keyword, _ in final.instructions][-3:] == [
        "HEALTHCHECK",
        "ENTRYPOINT",
        "CMD",
    ]
    healthcheck = final.all("HEALTHCHECK")[0]
    assert healthcheck.startswith("--interval=10s --timeout=3s --start-period=30s --retries=3 CMD ")
    assert "/healthz" in healthcheck


def test_runs_as_a_numeric_non_root_user(build: list[Stage]) -> None:
    users = [args for stage in build for args in stage.all("USER")]

    assert users, "no USER: the image would run as root"
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and int(user) != 0
    assert group.isdigit() and int(group) != 0


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


# -- the build context -------------------------------------------------------------------------


def _pattern(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        rules.append((keep, _pattern(os.path.normpath(line.lstrip("!")).lstrip("/"))))
    return rules


def in_context(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    included = True
    for keep, pattern in rules:
        if any(pattern.fullmatch(prefix) for prefix in prefixes):
            included = keep
    return included


def test_build_context_is_the_package_and_its_metadata() -> None:
    rules = dockerignore_rules()
    files = []
    for root, dirs, names in os.walk(REPO):
        dirs[:] = [d for d in dirs if d != ".git"]
        files += [os.path.relpath(os.path.join(root, name), REPO) for name in names]
    package = {
        f
        for f in files
        if f.startswith("bridge/") and "__pycache__" not in f and not f.endswith(".pyc")
    }

    context = {f for f in files if in_context(f, rules)}

    assert "bridge/http/app.py" in package and "bridge/py.typed" in package
    assert context == package | {"pyproject.toml", "README.md", "deploy/requirements.lock"}


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".git/HEAD",
        ".tools/bin/helm",
        "deploy/kafka/lib/kafka_2.13-4.3.1.jar",
        "deploy/kafka/state/data/meta.properties",
        "tests/test_app.py",
        "bridge/__pycache__/app.cpython-311.pyc",
        ".mypy_cache/3.11/bridge/app.data.json",
        ".ruff_cache/CACHEDIR.TAG",
        ".pytest_cache/v/cache/nodeids",
        ".hypothesis/examples/x",
        ".env",
        "helm/video-callback-bridge/values.yaml",
    ],
)
def test_build_context_leaves_out(path: str) -> None:
    assert not in_context(path, dockerignore_rules())


def test_everything_the_dockerfile_copies_is_in_the_context(build: list[Stage]) -> None:
    rules = dockerignore_rules()
    for stage in build:
        for args in stage.all("COPY"):
            if args.startswith("--from="):
                continue
            for source in args.split()[:-1]:
                assert (REPO / source).exists(), source
                assert in_context(source, rules), source


# -- deploy/compose.yaml -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


@pytest.fixture(scope="module")
def compose_validator() -> Any:
    if not COMPOSE_SCHEMA.is_file():
        pytest.fail(
            f"{COMPOSE_SCHEMA.relative_to(REPO)} is missing: run `make tools`", pytrace=False
        )
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def test_compose_file_follows_the_compose_specification(
    compose: dict[str, Any], compose_validator: Any
) -> None:
    errors = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in compose_validator.iter_errors(compose)
    ]

    assert errors == []


def test_compose_schema_rejects_mistakes(compose: dict[str, Any], compose_validator: Any) -> None:
    def errors(service: str, key: str, value: object) -> list[tuple[str, str]]:
        broken = json.loads(json.dumps(compose))
        broken["services"][service][key] = value
        return [
            ("/".join(map(str, error.absolute_path)), error.message)
            for error in compose_validator.iter_errors(broken)
        ]

    assert errors("bridge", "restart_policy", "always") == [
        (
            "services/bridge",
            "Unevaluated properties are not allowed ('restart_policy' was unexpected)",
        )
    ]
    assert errors("bridge", "depends_on", {"kafka": {"condition": "service_ready"}})[0] == (
        "services/bridge/depends_on",
        "{'kafka': {'condition': 'service_ready'}} is not valid under any of the given schemas",
    )
    assert errors("kafka", "ports", "9094:9094")[0] == (
        "services/kafka/ports",
        "'9094:9094' is not of type 'array'",
    )


def test_compose_kafka_is_a_single_kraft_node(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    env = kafka["environment"]
    pom = (REPO / "deploy" / "kafka" / "pom.xml").read_text()
    local_version = re.search(r"<kafka.version>(4\.[0-9.]+)</kafka.version>", pom)
    assert local_version is not None

    assert kafka["image"] == f"apache/kafka:{local_version.group(1)}"  # as `make run` uses
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_NODE_ID"] == "1"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    assert env["KAFKA_LISTENERS"] == "PLAINTEXT://:9092,CONTROLLER://:9093,HOST://:9094"
    assert env["KAFKA_ADVERTISED_LISTENERS"] == (
        "PLAINTEXT://kafka:9092,HOST://127.0.0.1:${VCB_KAFKA_PORT:-9094}"
    )
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert len(base64.urlsafe_b64decode(env["CLUSTER_ID"] + "==")) == 16
    assert all(isinstance(value, str) for value in env.values())
    assert kafka["ports"] == ["127.0.0.1:${VCB_KAFKA_PORT:-9094}:9094"]
    assert kafka["volumes"] == ["kafka-data:/var/lib/kafka/data"]
    assert env["KAFKA_LOG_DIRS"] == "/var/lib/kafka/data"
    assert (
        "kafka-broker-api-versions.sh --bootstrap-server kafka:9092"
        in kafka["healthcheck"]["test"][1]
    )


def test_compose_bridge_is_built_and_wired_to_kafka(compose: dict[str, Any]) -> None:
    bridge = compose["services"]["bridge"]
    build = bridge["build"]
    env = bridge["environment"]

    assert build == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    assert bridge["image"] == "${VCB_IMAGE:-video-callback-bridge:local}"
    # Not service_healthy: the bridge waits for Kafka itself (tests/test_containers.py).
    assert bridge["depends_on"] == {"kafka": {"condition": "service_started"}}
    assert bridge["ports"] == ["127.0.0.1:${VCB_HTTP_PORT:-8080}:8080"]
    assert env == {
        "BRIDGE_KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
        "BRIDGE_CREATE_TOPICS": "true",
        "BRIDGE_TOPIC_REPLICATION_FACTOR": "1",
        "BRIDGE_ALLOW_UNAUTHENTICATED": "true",
        "BRIDGE_LOG_LEVEL": "info",
    }
    assert unknown_variables(env) == []
    settings = load_settings(env)
    assert settings.create_topics is True
    assert settings.allow_unauthenticated is True
    assert (
        f"PLAINTEXT://{settings.kafka_bootstrap_servers}"
        in (compose["services"]["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"])
    )


def test_compose_bridge_runs_like_in_kubernetes(compose: dict[str, Any]) -> None:
    bridge = compose["services"]["bridge"]

    assert bridge["read_only"] is True
    assert bridge["tmpfs"] == ["/tmp"]  # noqa: S108 - the container's own /tmp
    assert bridge["cap_drop"] == ["ALL"]
    assert bridge["security_opt"] == ["no-new-privileges:true"]
    assert bridge["healthcheck"]["test"] == [
        "CMD",
        "python",
        "-c",
        "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=2)",
    ]
    grace = re.fullmatch(r"(\d+)s", bridge["stop_grace_period"])
    assert grace is not None
    assert int(grace.group(1)) > Settings().shutdown_grace_seconds
    assert compose["volumes"] == {"kafka-data": None}
