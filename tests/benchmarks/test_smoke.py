"""A tiny run of the benchmark harness: well-formed results and a passing topic check.

No speed is asserted here: benchmarks are not timed tests. `make bench` measures.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest

from benchmarks import loadgen, procs, targets
from benchmarks.harness import Bench
from benchmarks.options import Options
from benchmarks.results import Run, Summary
from tests.broker import LocalBroker
from tests.kafka_tools import read_all
from tests.samples import SAMPLE_VIDEO_IDS

pytestmark = pytest.mark.kafka


def well_formed(run: Run) -> None:
    assert run.callbacks_acknowledged > 0
    assert run.callbacks_per_s > 0
    assert run.cpu_seconds > 0
    assert run.rss_peak_mb > 0 and run.rss_hwm_mb > 0
    assert run.topic_check is not None
    assert run.topic_check.ok, run.topic_check.note


def test_the_harness_measures_the_bridge_and_checks_its_topic(
    own_broker: LocalBroker, tmp_path: Path
) -> None:
    loadgen.ensure_tools()
    out = tmp_path / "results"
    options = Options(seconds=2, warmup=1, connections=4, retries=0, rounds=2, out=out)
    bootstrap = own_broker.bootstrap
    broker = procs.listener(own_broker.port)
    bench = Bench(options, bootstrap, broker, tmp_path, own_broker.state_dir / "data")

    saturated = bench.saturate("bridge", "bridge")
    # Two rounds of the bare ceiling and the bridge, in turn, each pooled.
    bare, steady = bench.interleaved(
        [
            bench.at_rate("bare-ceiling @25/s", 25, "bare-ceiling"),
            bench.at_rate("bridge @25/s", 25, "bridge"),
        ]
    )
    spread = bench.fixed_rate("bridge spread @25/s", rate=25, body="spread")
    produced = bench.kafka_ceiling()
    bench.summarise(targets.comparisons(bench.runs, scale_workers=2))

    for run in (saturated, steady, spread, produced):
        well_formed(run)
    assert bare.statuses == {"200": bare.callbacks_answered} and bare.topic_check is None
    # Every record the bridge stored in the window is in a batch the broker's segments show.
    assert steady.topic_check is not None and steady.kafka_batches is not None
    assert steady.kafka_batches.codecs == ["lz4"]
    assert steady.kafka_batches.partitions == 2  # the sample's two videoIds
    assert 0 < steady.kafka_batches.records <= steady.topic_check.records
    assert spread.kafka_batches is not None and spread.kafka_batches.partitions == 6
    assert saturated.latency_ms is not None and saturated.statuses.get("200", 0) > 0
    # vegeta waits for every answer: the topic holds exactly the acknowledged videos.
    assert steady.topic_check is not None and steady.topic_check.exact
    assert steady.statuses == {"200": steady.callbacks_answered}
    summary = msgspec.json.decode((out / "latest" / "summary.json").read_bytes(), type=Summary)
    rounds = [run for run in summary.rounds if run.server == "bridge"]
    assert [run.name for run in rounds] == ["bridge @25/s, round 1", "bridge @25/s, round 2"]
    stored = 0
    for taken in rounds:  # a topic each
        assert taken.topic_check is not None
        records = asyncio.run(read_all(bootstrap, taken.topic_check.topic))
        assert len(records) == taken.topic_check.records == taken.topic_check.acknowledged_videos
        assert {record.key.decode() for record in records} == set(SAMPLE_VIDEO_IDS)
        stored += len(records)
    assert stored == steady.topic_check.records
    assert steady.callbacks_acknowledged == sum(run.callbacks_acknowledged for run in rounds)
    assert [r.started_at for r in steady.rounds] == [run.started_at for run in rounds]

    assert [run.name for run in summary.runs] == [
        "bridge",
        "bare-ceiling @25/s",
        "bridge @25/s",
        "bridge spread @25/s",
        "kafka-ceiling",
    ]
    assert [run.name for run in summary.rounds] == [
        "bare-ceiling @25/s, round 1",
        "bridge @25/s, round 1",
        "bare-ceiling @25/s, round 2",
        "bridge @25/s, round 2",
    ]
    assert summary.machine["nproc"]
    table = (out / "latest" / "table.md").read_text()
    assert table.startswith("| run |")
    # The costs table sets the three fixed-rate runs against the bare ceiling's.
    rows = [line for line in table.splitlines() if line.startswith("| vegeta 25/s |")]
    costs = [row.split(" | ")[1] for row in rows]
    assert costs == ["bare-ceiling @25/s", "bridge @25/s", "bridge spread @25/s"]
    assert len(list((out / "latest").glob("0*.json"))) == 9  # the runs and the rounds
