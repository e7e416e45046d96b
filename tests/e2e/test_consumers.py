"""What downstream teams rely on, against a real broker: groups, schema, example, dead letters."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from bridge.contract import value_schema
from bridge.kinds import MATERIAL_UPLOAD, VIDEO_UPLOAD
from tests.kafka_tools import read_all
from tests.samples import EXAMPLES, SAMPLE_VIDEO_IDS, VIDEO_SAMPLE, sample_video, video_body
from tests.servers import BridgeProcess, fresh_settings

pytestmark = pytest.mark.kafka

TOKEN = "consumer-test-token-0123"
ROOT = EXAMPLES.parent


@pytest.fixture
def bridge(kafka_bootstrap: str, tmp_path: Path) -> Iterator[BridgeProcess]:
    settings = fresh_settings(kafka_bootstrap, auth_tokens=TOKEN)
    with BridgeProcess(tmp_path / "bridge.log", **settings) as process:
        yield process


def run(bridge: BridgeProcess, *args: str, stdin: bytes | None = None) -> str:
    """A command of the docs, run with the bridge's settings; its stdout."""
    result = subprocess.run(
        args, env=bridge.env, cwd=ROOT, capture_output=True, timeout=120, check=False, input=stdin
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def bridge_cli(bridge: BridgeProcess, *args: str) -> str:
    return run(bridge, sys.executable, "-m", "bridge", *args)


def send(bridge: BridgeProcess, body: bytes, tmp_path: Path, route: str = "video-upload") -> str:
    path = tmp_path / "body.json"
    path.write_bytes(body)
    url = f"{bridge.url}/callbacks/{route}/{TOKEN}"
    return bridge_cli(bridge, "send", str(path), "--url", url)


def test_two_consumer_groups_each_receive_every_record(
    bridge: BridgeProcess, tmp_path: Path
) -> None:
    send(bridge, VIDEO_SAMPLE, tmp_path)

    seen = {}
    for group in ("team-a", "team-b"):
        out = bridge_cli(
            bridge,
            "consume",
            "--group",
            group,
            "--from-beginning",
            "--max-records",
            "2",
            "--timeout",
            "30",
        )
        seen[group] = sorted(json.loads(line)["key"] for line in out.splitlines())
    again = bridge_cli(bridge, "consume", "--group", "team-a", "--timeout", "3")

    assert seen == {"team-a": sorted(SAMPLE_VIDEO_IDS), "team-b": sorted(SAMPLE_VIDEO_IDS)}
    assert again == ""  # the group's offsets were committed


def test_consume_filters_by_key_and_prints_pretty(bridge: BridgeProcess, tmp_path: Path) -> None:
    send(bridge, VIDEO_SAMPLE, tmp_path)

    out = bridge_cli(
        bridge,
        "consume",
        "--from-beginning",
        "--key",
        SAMPLE_VIDEO_IDS[1],
        "--format",
        "pretty",
        "--timeout",
        "5",
    )

    record = json.loads(out)
    assert record["key"] == SAMPLE_VIDEO_IDS[1]
    assert record["value"]["videoName"] == "creattest_20170801171104"
    assert out.startswith('{\n  "topic"')


async def test_the_schema_validates_every_value_the_bridge_produced(
    bridge: BridgeProcess, tmp_path: Path, kafka_bootstrap: str
) -> None:
    bodies = [
        VIDEO_SAMPLE,
        video_body(
            sample_video(videoId="Q1", serverType=-1, videoSize=5, videoClassification="null"),
            sample_video(videoId="Q2", createTime="1501578800", vendorAddedLater=[1, 2]),
            sample_video(videoId="Q3", videoName=None, videoResolutions=None),
            sample_video(videoId=None),  # dead-lettered, not produced
            total="4",
        ),
    ]
    for body in bodies:
        assert send(bridge, body, tmp_path).startswith("200 ")
    material = b'{"code":200,"data":{"materialList":[{"id":"M1","fileSize":1}],"total":"1"}}'
    assert send(bridge, material, tmp_path, route="material-upload").startswith("200 ")

    videos = await read_all(kafka_bootstrap, bridge.env["BRIDGE_TOPIC_VIDEO_UPLOAD"])
    materials = await read_all(kafka_bootstrap, bridge.env["BRIDGE_TOPIC_MATERIAL_UPLOAD"])

    assert len(videos) == 5
    assert len(materials) == 1
    for kind, records in ((VIDEO_UPLOAD, videos), (MATERIAL_UPLOAD, materials)):
        checker = jsonschema.Draft202012Validator(value_schema(kind))
        for record in records:
            checker.validate(json.loads(record.value))
    without_id = json.loads(videos[0].value)
    del without_id["videoId"]
    assert not jsonschema.Draft202012Validator(value_schema(VIDEO_UPLOAD)).is_valid(without_id)


def test_the_example_consumer_runs_as_documented(bridge: BridgeProcess, tmp_path: Path) -> None:
    send(bridge, VIDEO_SAMPLE, tmp_path)

    out = run(
        bridge, sys.executable, "examples/consumer.py", "--group", "my-team", "--stop-after", "2"
    )

    lines = out.splitlines()
    assert sorted(line.split()[1] for line in lines) == sorted(SAMPLE_VIDEO_IDS)
    assert lines[0].startswith("video ")
    assert "size=11153160 duration=36s uploaded_at=2017-08-01 09:14:26+00:00" in out


def test_the_example_consumer_drops_duplicates(bridge: BridgeProcess, tmp_path: Path) -> None:
    send(bridge, VIDEO_SAMPLE, tmp_path)
    send(bridge, VIDEO_SAMPLE, tmp_path)  # the platform sends the same callback again

    out = run(
        bridge, sys.executable, "examples/consumer.py", "--group", "dedup", "--idle-timeout", "3"
    )

    handled = [line.split()[1] for line in out.splitlines() if line.startswith("video ")]
    dropped = [line for line in out.splitlines() if line.startswith("duplicate ")]
    assert sorted(handled) == sorted(SAMPLE_VIDEO_IDS)
    assert len(dropped) == 2


async def test_replaying_a_fixed_dead_letter_forwards_it_exactly_once(
    bridge: BridgeProcess, tmp_path: Path, kafka_bootstrap: str
) -> None:
    body = video_body(sample_video(videoId="KEPT"), sample_video(videoId=None))
    assert json.loads(send(bridge, body, tmp_path)[4:])["deadLettered"] == 1
    [letter] = [json.loads(line) for line in bridge_cli(bridge, "dlq", "list").splitlines()]
    assert letter["scope"] == "item"
    assert letter["replayed"] is False
    assert letter["reason"] == (
        "Object missing required field `videoId` - at `$.data.videoListInfo[1]`"
    )
    where = f"{letter['partition']}:{letter['offset']}"

    kept = bridge_cli(bridge, "dlq", "show", where)
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps({**json.loads(kept), "videoId": "FIXED"}))
    replayed = bridge_cli(bridge, "dlq", "replay", where, "--value", str(fixed))
    again = bridge_cli(bridge, "dlq", "replay", where)

    assert replayed.startswith(f"{where} 200 ")
    assert again == f"{where} skipped: replayed before (use --force to send it again)\n"
    videos = await read_all(kafka_bootstrap, bridge.env["BRIDGE_TOPIC_VIDEO_UPLOAD"])
    assert sorted(record.key for record in videos) == [b"FIXED", b"KEPT"]
    [listed] = [json.loads(line) for line in bridge_cli(bridge, "dlq", "list").splitlines()]
    assert listed["replayed"] is True
