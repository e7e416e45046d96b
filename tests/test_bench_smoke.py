"""A tiny run of the benchmark harness: well-formed results and a passing topic check.

No speed is asserted here: benchmarks are not timed tests. `make bench` measures.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest

from benchmarks import loadgen, procs, targets
from benchmarks.harness import Bench, Options
from benchmarks.results import Run, Summary
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
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    loadgen.ensure_tools()
    out = tmp_path / "results"
    options = Options(seconds=2, warmup=1, connections=4, retries=0, out=out)
    broker = procs.listener(int(kafka_bootstrap.rpartition(":")[2]))
    bench = Bench(options, kafka_bootstrap, broker, tmp_path)

    saturated = bench.saturate("bridge", "bridge")
    steady = bench.fixed_rate("bridge @ 25/s", rate=25)
    produced = bench.kafka_ceiling()
    bench.summarise(targets.comparisons(bench.runs, scale_workers=2))

    for run in (saturated, steady, produced):
        well_formed(run)
    assert saturated.latency_ms is not None and saturated.statuses.get("200", 0) > 0
    # vegeta waits for every answer: the topic holds exactly the acknowledged videos.
    assert steady.topic_check is not None and steady.topic_check.exact
    assert steady.statuses == {"200": steady.callbacks_answered}
    records = asyncio.run(read_all(kafka_bootstrap, steady.topic_check.topic))
    assert len(records) == steady.topic_check.records == steady.topic_check.acknowledged_videos
    assert {record.key.decode() for record in records} == set(SAMPLE_VIDEO_IDS)

    summary = msgspec.json.decode((out / "latest" / "summary.json").read_bytes(), type=Summary)
    assert [run.name for run in summary.runs] == ["bridge", "bridge @ 25/s", "kafka-ceiling"]
    assert summary.machine["nproc"]
    assert (out / "latest" / "table.md").read_text().startswith("| run |")
    assert len(list((out / "latest").glob("0*.json"))) == 3
