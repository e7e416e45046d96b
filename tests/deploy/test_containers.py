"""The image and the compose stack, run by a real container engine (`make container-test`).

The image runs as Kubernetes runs it (read-only root filesystem, no capabilities, uid 10001)
against a real broker on this machine, reached over the host's network. The compose stack
runs as a user runs it, on free ports, with Kafka started after the bridge.
These tests need podman or docker: without one they fail, saying so. `make test` leaves
them out (marker `container`).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from packaging.utils import canonicalize_name

import bridge
from bridge.settings import Settings
from tests.deploy.test_dockerfile import locked
from tests.engine import BRIDGE_IMAGE, REPO, Engine, unique_name, wait_for_status
from tests.kafka_tools import read_all
from tests.ports import free_port
from tests.samples import SAMPLE_VIDEO_IDS, VIDEO_SAMPLE, item_slices, success_answer
from tests.servers import fresh_settings

pytestmark = pytest.mark.container

JSON = {"content-type": "application/json"}
COMPOSE = REPO / "deploy" / "compose.yaml"
# Measured at 288 MB on the Debian-made base; a regression guard, not a target.
IMAGE_SIZE_LIMIT = 400_000_000


@pytest.fixture(scope="module")
def engine() -> Engine:
    try:
        found = Engine()
    except RuntimeError as error:
        pytest.fail(f"the container tests need an engine: {error}", pytrace=False)
    if not found.succeeds("image", "exists", BRIDGE_IMAGE) and not found.succeeds(
        "image", "inspect", BRIDGE_IMAGE
    ):
        pytest.fail(f"{BRIDGE_IMAGE} is not built: run `make image`", pytrace=False)
    return found


# -- the image ------------------------------------------------------------------------------------


def test_the_python_packages_in_the_image_are_the_locked_ones(engine: Engine) -> None:
    listing = engine.run(
        "run",
        "--rm",
        "--network=none",
        "--entrypoint=python",
        BRIDGE_IMAGE,
        "-c",
        "import importlib.metadata as m, json; "
        "print(json.dumps({d.name: d.version for d in m.distributions()}))",
    )
    installed = {canonicalize_name(name): version for name, version in json.loads(listing).items()}

    assert installed == locked() | {"video-callback-bridge": bridge.__version__}


def test_the_image_size_is_reported_and_bounded(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    size = int(engine.run("image", "inspect", "--format", "{{.Size}}", BRIDGE_IMAGE).strip())
    with capsys.disabled():
        print(f"\n{BRIDGE_IMAGE}: {size} bytes ({size / 1e6:.0f} MB)")

    assert 0 < size < IMAGE_SIZE_LIMIT, f"{BRIDGE_IMAGE} is {size} bytes"


class RunningBridge:
    def __init__(self, name: str, port: int, settings: dict[str, str]) -> None:
        self.name = name
        self.url = f"http://127.0.0.1:{port}"
        self.settings = settings


@pytest.fixture(scope="module")
def running(engine: Engine, kafka_bootstrap: str) -> Iterator[RunningBridge]:
    """The image as the chart runs it, on this machine's network to reach the test broker."""
    name = unique_name("bridge")
    port = free_port()
    settings = fresh_settings(
        kafka_bootstrap,
        host="127.0.0.1",
        port=str(port),
        allow_unauthenticated="true",
        topic_replication_factor="1",
    )
    environment = [f"--env=BRIDGE_{key.upper()}={value}" for key, value in settings.items()]
    engine.run(
        "run",
        "--detach",
        f"--name={name}",
        "--network=host",
        "--read-only",
        "--tmpfs=/tmp",
        "--cap-drop=ALL",
        "--security-opt=no-new-privileges",
        *environment,
        BRIDGE_IMAGE,
    )
    try:
        started = RunningBridge(name, port, settings)
        wait_for_status(started.url + "/readyz", 200, 90, f"the bridge in {name} never got ready")
        yield started
    finally:
        logs = engine.run("logs", name, check=False)
        engine.run("rm", "--force", "--time=0", name, check=False)
        sys.stderr.write(f"\n--- {name} ---\n{logs[-4000:]}\n")


def test_it_runs_read_only_as_10001_without_capabilities(
    engine: Engine, running: RunningBridge
) -> None:
    probe = (
        "import json, os\n"
        "status = dict(line.split(':', 1) for line in open('/proc/1/status'))\n"
        "try:\n"
        "    open('/opt/bridge/probe', 'w')\n"
        "    write = 'written'\n"
        "except OSError as error:\n"
        "    write = error.strerror\n"
        "print(json.dumps({'uid': status['Uid'].split(), 'gid': status['Gid'].split(),\n"
        "    'caps': status['CapEff'].strip(), 'bounding': status['CapBnd'].strip(),\n"
        "    'write': write, 'tmp': os.access('/tmp', os.W_OK)}))\n"
    )
    seen = json.loads(engine.run("exec", running.name, "python", "-c", probe))

    assert seen == {
        "uid": ["10001"] * 4,
        "gid": ["10001"] * 4,
        "caps": "0000000000000000",
        "bounding": "0000000000000000",
        "write": "Read-only file system",
        "tmp": True,
    }


async def test_the_vendor_sample_is_200_and_its_two_records_are_in_kafka(
    running: RunningBridge, kafka_bootstrap: str
) -> None:
    async with httpx.AsyncClient(base_url=running.url, timeout=30) as client:
        response = await client.post("/callbacks/video-upload", content=VIDEO_SAMPLE, headers=JSON)

    assert response.status_code == 200
    assert response.json() == success_answer(2)
    records = await read_all(kafka_bootstrap, running.settings["topic_video_upload"])
    by_key = {record.key.decode(): record.value for record in records}
    assert len(records) == 2
    assert by_key == dict(
        zip(SAMPLE_VIDEO_IDS, item_slices(VIDEO_SAMPLE, "videoListInfo"), strict=True)
    )


def test_its_healthcheck_passes(engine: Engine, running: RunningBridge) -> None:
    healthcheck = json.loads(engine.inspect(running.name, "{{json .Config.Healthcheck}}"))
    assert healthcheck, "the container has no HEALTHCHECK (an OCI-format build drops it)"

    assert healthcheck["Test"][:2] == ["CMD", "python"]
    assert "/healthz" in healthcheck["Test"][-1]
    # Docker runs it on its own schedule (the first after --interval); podman when asked.
    deadline = time.monotonic() + 60
    while not engine.healthy(running.name):
        assert time.monotonic() < deadline, engine.run("logs", running.name, check=False)
        time.sleep(1)


def test_sigterm_stops_it_with_exit_0_within_the_grace_period(
    engine: Engine, running: RunningBridge
) -> None:
    grace = Settings().shutdown_grace_seconds

    engine.run("kill", "--signal=TERM", running.name)
    # `wait` returns the exit code; past the grace period the subprocess timeout fails the test.
    code = engine.run("wait", running.name, timeout=grace + 5).strip()

    assert code == "0", engine.run("logs", running.name, check=False)


# -- the compose stack ----------------------------------------------------------------------------


class Stack:
    """deploy/compose.yaml under a project name of its own, on free ports."""

    def __init__(self, engine: Engine) -> None:
        self.project = unique_name("compose")
        self.http_port = free_port()
        self.kafka_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.bootstrap = f"127.0.0.1:{self.kafka_port}"
        self.command = (
            [str(Path(sys.executable).parent / "podman-compose")]
            if engine.name == "podman"
            else ["docker", "compose"]
        )
        self.environment = {
            **os.environ,
            "VCB_HTTP_PORT": str(self.http_port),
            "VCB_KAFKA_PORT": str(self.kafka_port),
            "VCB_IMAGE": BRIDGE_IMAGE,
        }

    def compose(self, *args: str, timeout: float = 180.0) -> str:
        done = subprocess.run(
            [*self.command, "--file", str(COMPOSE), "--project-name", self.project, *args],
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"compose {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout


def container_of(engine: Engine, project: str, service: str) -> str:
    names = engine.run(
        "ps",
        "--all",
        "--filter",
        f"label=com.docker.compose.project={project}",
        "--filter",
        f"label=com.docker.compose.service={service}",
        "--format",
        "{{.Names}}",
    ).split()
    assert len(names) == 1, names
    return names[0]


def test_compose_stack_with_kafka_started_last(engine: Engine) -> None:
    stack = Stack(engine)
    try:
        stack.compose("up", "--detach", "--no-deps", "bridge")
        bridge_container = container_of(engine, stack.project, "bridge")
        started_at = engine.inspect(bridge_container, "{{.State.StartedAt}}")
        wait_for_status(stack.url + "/healthz", 200, 90, "the bridge never served")
        waiting = httpx.get(stack.url + "/readyz", timeout=5)
        assert waiting.status_code == 503, waiting.text

        stack.compose("up", "--detach", "kafka")
        wait_for_status(stack.url + "/readyz", 200, 180, "the bridge never saw Kafka")

        assert engine.inspect(bridge_container, "{{.State.StartedAt}}") == started_at
        assert engine.inspect(bridge_container, "{{.RestartCount}}") == "0"
        response = httpx.post(
            stack.url + "/callbacks/video-upload", content=VIDEO_SAMPLE, headers=JSON, timeout=30
        )
        assert response.status_code == 200
        assert response.json() == success_answer(2)
        records = asyncio.run(read_all(stack.bootstrap, Settings().topic_video_upload))
        assert sorted(record.key.decode() for record in records) == sorted(SAMPLE_VIDEO_IDS)
    finally:
        stack.compose("down", "--volumes")

    volumes = engine.run("volume", "ls", "--format", "{{.Name}}").split()
    assert [volume for volume in volumes if volume.startswith(stack.project)] == []
    assert (
        engine.run(
            "ps", "--all", "--filter", f"label=com.docker.compose.project={stack.project}", "-q"
        ).split()
        == []
    )
