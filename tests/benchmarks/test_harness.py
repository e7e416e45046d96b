"""The harness's own arithmetic: topic checks, percentiles, memory slope, profile tallies,
batches from the broker's segments, the spread bodies, the costs against the bare ceiling."""

from __future__ import annotations

import json

from benchmarks import checks, procs, profile, results, segments, targets
from benchmarks.bodies import spread_samples, vendor_sample
from benchmarks.loadgen import Answers, percentiles
from benchmarks.results import Run
from tests.kafka_tools import java_partition


def wrk_answers(acknowledged: int, **statuses: int) -> Answers:
    return Answers(
        seconds=1.0,
        answered=acknowledged + sum(statuses.values()),
        statuses={"200": acknowledged, **statuses},
        errors={},
        latency_ms={},
        outstanding=4,
    )


def vegeta_answers(every: dict[str, int]) -> Answers:
    return Answers(
        seconds=1.0,
        answered=sum(every.values()),
        statuses=every,
        errors={},
        latency_ms={},
        every=every,
    )


def test_closed_loop_allows_the_callbacks_wrk_left_unread() -> None:
    exact = checks.closed_loop("t", 200, wrk_answers(100), per_callback=2)
    assert exact.ok and exact.excess == 0 and not exact.exact

    unread = checks.closed_loop("t", 208, wrk_answers(100), per_callback=2)
    assert unread.ok and unread.excess == 8 and unread.excess_allowed == 8
    assert "4 callbacks whose answer wrk did not read" in unread.note

    too_many = checks.closed_loop("t", 210, wrk_answers(100), per_callback=2)
    assert not too_many.ok


def test_closed_loop_fails_when_acknowledged_records_are_missing() -> None:
    missing = checks.closed_loop("t", 199, wrk_answers(100), per_callback=2)
    assert not missing.ok
    assert "acknowledged records are missing" in missing.note


def test_open_loop_is_exact() -> None:
    exact = checks.open_loop("t", 200, vegeta_answers({"200": 100}), per_callback=2)
    assert exact.ok and exact.exact and exact.excess_allowed == 0
    assert not checks.open_loop("t", 202, vegeta_answers({"200": 100}), per_callback=2).ok
    assert not checks.open_loop("t", 198, vegeta_answers({"200": 100}), per_callback=2).ok


def test_open_loop_allows_records_of_a_callback_answered_503() -> None:
    late = checks.open_loop("t", 202, vegeta_answers({"200": 100, "503": 1}), per_callback=2)
    assert late.ok and late.excess == 2


def test_produced_counts_one_record_per_acknowledgement() -> None:
    assert checks.produced("t", 10, 10, 0).ok
    assert not checks.produced("t", 10, 10, 1).ok
    assert not checks.produced("t", 9, 10, 0).ok


def test_percentiles_are_nearest_rank_in_milliseconds() -> None:
    figures = percentiles([n * 1_000_000 for n in range(1, 101)])
    assert figures == {"p50": 50.0, "p90": 90.0, "p99": 99.0, "max": 100.0, "mean": 50.5}
    assert percentiles([])["p99"] == 0.0


def test_rss_slope_is_in_mb_per_minute_after_the_settling_time() -> None:
    sampler = procs.Sampler(pid=0)
    # 100 MB at start-up, then 1 MB more every minute.
    sampler.samples = [(0.0, 50 * procs.MB)] + [
        (float(t), int((100 + t / 60) * procs.MB)) for t in range(10, 600, 10)
    ]
    assert round(sampler.slope_mb_per_min(after=10), 3) == 1.0
    assert sampler.peak == int((100 + 590 / 60) * procs.MB)


def test_the_profile_tallies_own_and_total_time() -> None:
    folded = "\n".join(
        [
            "main (a.py:1);handle (b.py:2);decode (c.py:3) 6",
            "main (a.py:1);handle (b.py:2) 3",
            "main (a.py:1) 1",
        ]
    )
    lines = profile.top(folded)
    assert lines[0] == "10 samples of the running (not idle) threads"
    assert lines[3].split() == ["60.0", "60.0", "decode", "(c.py:3)"]
    assert lines[4].split() == ["30.0", "90.0", "handle", "(b.py:2)"]


DUMPED = """\
Dumping /data/t-0/00000000000000000000.log
Log starting offset: 0
baseOffset: 0 lastOffset: 2 count: 3 baseSequence: 0 lastSequence: 2 producerId: 0 \
producerEpoch: 0 partitionLeaderEpoch: 0 isTransactional: false isControl: false \
deleteHorizonMs: OptionalLong.empty position: 0 CreateTime: 1000 size: 300 magic: 2 \
compresscodec: lz4 crc: 1178690171 isvalid: true
baseOffset: 3 lastOffset: 3 count: 1 baseSequence: 3 lastSequence: 3 producerId: 0 \
producerEpoch: 0 partitionLeaderEpoch: 0 isTransactional: false isControl: false \
deleteHorizonMs: OptionalLong.empty position: 300 CreateTime: 2000 size: 100 magic: 2 \
compresscodec: lz4 crc: 3674887415 isvalid: true
Dumping /data/t-1/00000000000000000000.log
Log starting offset: 0
baseOffset: 0 lastOffset: 4 count: 5 baseSequence: 0 lastSequence: 4 producerId: 0 \
producerEpoch: 0 partitionLeaderEpoch: 0 isTransactional: false isControl: false \
deleteHorizonMs: OptionalLong.empty position: 0 CreateTime: 3000 size: 500 magic: 2 \
compresscodec: lz4 crc: 2315173994 isvalid: true
"""


def test_the_batches_are_read_from_dump_log_segments_by_file() -> None:
    found = segments.parse(DUMPED)
    assert found == {
        "/data/t-0/00000000000000000000.log": [
            segments.Batch(3, 1000, 300, "lz4"),
            segments.Batch(1, 2000, 100, "lz4"),
        ],
        "/data/t-1/00000000000000000000.log": [segments.Batch(5, 3000, 500, "lz4")],
    }


def test_only_the_batches_created_in_the_window_count() -> None:
    parsed = segments.parse(DUMPED)
    by_partition = {0: parsed["/data/t-0/00000000000000000000.log"], 1: [], 2: []}
    by_partition[1] = parsed["/data/t-1/00000000000000000000.log"]
    assert segments.summarise(by_partition, 1000, 3000) == segments.Batches(
        batches=3,
        records=9,
        records_per_batch=3.0,
        bytes_per_batch=300.0,
        partitions=2,
        codecs=["lz4"],
    )
    later = segments.summarise(by_partition, 1500, 2500)
    assert (later.batches, later.records, later.partitions) == (1, 1, 1)
    assert segments.summarise(by_partition, 5000, 6000).records_per_batch == 0.0


def test_the_spread_bodies_visit_every_partition_in_turn_at_the_samples_size() -> None:
    bodies = spread_samples(6, count=12)
    assert len(bodies) == 12
    assert {len(body) for body in bodies} == {len(vendor_sample())}
    keys = [
        item["videoId"] for body in bodies for item in json.loads(body)["data"]["videoListInfo"]
    ]
    assert [java_partition(key.encode(), 6) for key in keys] == [n % 6 for n in range(24)]
    assert len(set(keys)) == 24


def run(
    name: str,
    server: str,
    *,
    cpu_ms: float,
    per_s: float,
    rate: float = 3000.0,
    broker_ms: float = 0.0,
    batches: segments.Batches | None = None,
) -> Run:
    return Run(
        name=name,
        server=server,
        mode="fixed-rate",
        rate_offered=rate,
        workers=1,
        videos_per_callback=2,
        body_bytes=3199,
        load_generator="vegeta",
        started_at="2026-01-01T00:00:00Z",
        warmup_seconds=3,
        callbacks_per_s=per_s,
        cpu_ms_per_callback=cpu_ms,
        broker_cpu_ms_per_callback=broker_ms,
        kafka_batches=batches,
        latency_ms={"p50": 1.0, "p90": 2.0, "p99": 4.0, "max": 9.0, "mean": 1.2},
    )


def test_costs_are_set_against_the_bare_ceiling_under_the_same_load() -> None:
    runs = [
        run("bare-ceiling @3000/s", "bare-ceiling", cpu_ms=0.060, per_s=3000.0),
        run(
            "bridge @3000/s",
            "bridge",
            cpu_ms=0.150,
            per_s=3000.0,
            broker_ms=0.025,
            batches=segments.Batches(
                batches=10,
                records=120,
                records_per_batch=12.0,
                bytes_per_batch=900.0,
                partitions=2,
                codecs=["lz4"],
            ),
        ),
        run("bridge @25%", "bridge", cpu_ms=0.2, per_s=1000.0, rate=1000.0),
    ]
    lines = results.costs_table(runs).splitlines()
    assert len(lines) == 4  # no bare ceiling at 1,000/s: that run is left out
    assert lines[2] == (
        "| vegeta 3,000/s | bare-ceiling @3000/s | 3,000 | 1.00 | 60 | 1.00 | 0 |  | 1.0 | 4.0 |"
    )
    assert lines[3] == (
        "| vegeta 3,000/s | bridge @3000/s | 3,000 | 1.00 | 150 | 2.50 | 25 | 12.0 | 1.0 | 4.0 |"
    )
    by_what = {c.what: c for c in targets.comparisons(runs, scale_workers=2)}
    cpu = by_what["bridge @3000/s: CPU per callback / the bare ceiling's"]
    assert (cpu.value, cpu.target, cpu.met) == (2.5, "<= 1.7x", False)
    broker = by_what["bridge @3000/s: broker CPU per callback"]
    assert (broker.value, broker.target, broker.met) == (25.0, "<= 30 us", True)
    assert by_what["bridge @3000/s: p99"].met is True
    assert by_what["bridge spread @3000/s: p99"].value is None
