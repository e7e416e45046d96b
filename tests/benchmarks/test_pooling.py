"""Rounds pooled into one run: sums, percentiles over every answer, and each round kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import pooling, results, targets
from benchmarks.harness import Bench
from benchmarks.options import Options, parse
from benchmarks.results import Run, TopicCheck
from benchmarks.segments import Batches


def taken(
    name: str,
    server: str,
    *,
    started: str,
    cpu_s: float,
    acked: int,
    broker_s: float = 0.0,
    p99: float = 4.0,
    check: TopicCheck | None = None,
    batches: Batches | None = None,
) -> Run:
    """A round as `Bench._fixed_rate` leaves it: 10 s measured at 3,000/s offered."""
    return Run(
        name=name,
        server=server,
        mode="fixed-rate",
        rate_offered=3000.0,
        workers=1,
        videos_per_callback=2,
        body_bytes=3199,
        load_generator="vegeta",
        started_at=started,
        warmup_seconds=3,
        seconds=10.0,
        callbacks_answered=acked + 1,
        callbacks_acknowledged=acked,
        callbacks_per_s=acked / 10,
        videos_per_s=acked / 5,
        latency_ms={"p50": 1.0, "p90": 2.0, "p99": p99, "max": 9.0, "mean": 1.2},
        statuses={"200": acked, "503": 1},
        cpu_seconds=cpu_s,
        cpu_ms_per_callback=round(cpu_s * 1000 / acked, 3),
        rss_peak_mb=50.0,
        rss_hwm_mb=51.0,
        pss_peak_mb=49.0,
        broker_cpu_seconds=broker_s,
        broker_cpu_ms_per_callback=round(broker_s * 1000 / acked, 3),
        kafka_batches=batches,
        loadgen_cpu_seconds=3.0,
        other_cpu_seconds=0.1,
        load_average=(1.0, 1.5),
        topic_check=check,
    )


def check(topic: str, records: int) -> TopicCheck:
    return TopicCheck(
        topic=topic,
        records=records,
        acknowledged_videos=records,
        excess=0,
        excess_allowed=2,
        exact=True,
        ok=True,
        note=f"{records} records",
    )


def batches(count: int, records: int, size: float) -> Batches:
    return Batches(
        batches=count,
        records=records,
        records_per_batch=records / count,
        bytes_per_batch=size,
        partitions=2,
        codecs=["lz4"],
    )


def test_rounds_are_summed_and_their_percentiles_taken_over_every_answer() -> None:
    first = taken(
        "bridge @3000/s, round 1",
        "bridge",
        started="2026-01-01T00:00:00Z",
        cpu_s=6.0,
        acked=30000,
        broker_s=0.9,
        p99=3.0,
        check=check("t1", 60000),
        batches=batches(100, 2000, 1000.0),
    )
    second = taken(
        "bridge @3000/s, round 2",
        "bridge",
        started="2026-01-01T00:02:00Z",
        cpu_s=3.0,
        acked=30000,
        broker_s=0.6,
        p99=99.0,
        check=check("t2", 60000),
        batches=batches(300, 3000, 500.0),
    )
    # 100 answers of 1 ms in the first round, 100 of 2..101 ms in the second.
    latencies = [[1_000_000] * 100, [n * 1_000_000 for n in range(2, 102)]]

    run = pooling.pooled("bridge @3000/s", [first, second], latencies)

    assert run.name == "bridge @3000/s" and run.started_at == "2026-01-01T00:00:00Z"
    assert (run.seconds, run.callbacks_acknowledged, run.callbacks_answered) == (20.0, 60000, 60002)
    assert (run.callbacks_per_s, run.videos_per_s) == (3000.0, 6000.0)
    assert (run.cpu_seconds, run.cpu_ms_per_callback) == (9.0, 0.15)
    assert (run.broker_cpu_seconds, run.broker_cpu_ms_per_callback) == (1.5, 0.025)
    assert run.statuses == {"200": 60000, "503": 2}
    # Nearest rank over the 200 answers: the 100th is 1 ms, the 180th 81, the 198th 99;
    # the mean is (100 + 2 + ... + 101) / 200.
    assert run.latency_ms == {"p50": 1.0, "p90": 81.0, "p99": 99.0, "max": 101.0, "mean": 26.25}
    assert run.kafka_batches == Batches(
        batches=400,
        records=5000,
        records_per_batch=12.5,
        bytes_per_batch=625.0,
        partitions=2,
        codecs=["lz4"],
    )
    assert run.topic_check is not None and run.topic_check.ok and run.topic_check.exact
    assert (run.topic_check.topic, run.topic_check.records) == ("t1, t2", 120000)
    assert run.topic_check.note == "round 1: 60000 records; round 2: 60000 records"
    assert (run.loadgen_cpu_seconds, run.other_cpu_seconds) == (6.0, 0.2)
    assert run.load_average == (1.0, 1.5) and run.rss_peak_mb == 50.0
    assert [(r.started_at, r.cpu_ms_per_callback, r.p99_ms) for r in run.rounds] == [
        ("2026-01-01T00:00:00Z", 0.2, 3.0),
        ("2026-01-01T00:02:00Z", 0.1, 99.0),
    ]


def test_batches_unknown_in_one_round_are_unknown_pooled() -> None:
    rounds = [
        taken("b, round 1", "bridge", started="s1", cpu_s=1.0, acked=10, batches=batches(1, 2, 9)),
        taken("b, round 2", "bridge", started="s2", cpu_s=1.0, acked=10),
    ]
    assert pooling.pooled("b", rounds, [[1], [1]]).kafka_batches is None


def test_one_failed_round_fails_the_pooled_topic_check() -> None:
    failed = TopicCheck(
        topic="t2",
        records=10,
        acknowledged_videos=12,
        excess=-2,
        excess_allowed=0,
        exact=True,
        ok=False,
        note="missing",
    )
    rounds = [
        taken("b, round 1", "bridge", started="s1", cpu_s=1.0, acked=10, check=check("t1", 20)),
        taken("b, round 2", "bridge", started="s2", cpu_s=1.0, acked=10, check=failed),
    ]
    pooled = pooling.pooled("b", rounds, [[1], [1]])
    assert pooled.topic_check is not None and not pooled.topic_check.ok
    assert pooled.topic_check.note == "round 1: 20 records; round 2: missing"


def test_pooling_needs_the_latencies_of_every_round() -> None:
    one = taken("b, round 1", "bridge", started="s1", cpu_s=1.0, acked=10)
    with pytest.raises(ValueError, match="one list of latencies for each round"):
        pooling.pooled("b", [one, one], [[1]])
    with pytest.raises(ValueError, match="at least one round"):
        pooling.pooled("b", [], [])


def test_the_targets_show_each_rounds_ratio_to_the_bare_ceilings_round() -> None:
    bare = [
        taken(f"bare @3000/s, round {n}", "bare-ceiling", started=f"b{n}", cpu_s=cpu, acked=30000)
        for n, cpu in ((1, 3.0), (2, 4.5))
    ]
    bridge = [
        taken(
            f"bridge @3000/s, round {n}",
            "bridge",
            started=f"r{n}",
            cpu_s=cpu,
            acked=30000,
            broker_s=broker,
        )
        for n, cpu, broker in ((1, 4.5, 0.6), (2, 7.2, 0.9))
    ]
    runs = [
        pooling.pooled("bare-ceiling @3000/s", bare, [[1], [1]]),
        pooling.pooled("bridge @3000/s", bridge, [[1], [1]]),
    ]
    by_what = {c.what: c for c in targets.comparisons(runs, scale_workers=2)}
    cpu = by_what["bridge @3000/s: CPU per callback / the bare ceiling's"]
    # Pooled: 11.7 s against 7.5 s for as many callbacks; round by round 1.5 and 1.6.
    assert cpu.value == pytest.approx(1.56) and cpu.met is True
    assert cpu.rounds == pytest.approx([1.5, 1.6])
    broker = by_what["bridge @3000/s: broker CPU per callback"]
    assert broker.value == pytest.approx(25.0) and broker.rounds == pytest.approx([20.0, 30.0])
    lines = results.comparisons_table([cpu]).splitlines()
    assert lines[2] == (
        "| bridge @3000/s: CPU per callback / the bare ceiling's | 1.56x (rounds: 1.50, 1.60) "
        "| <= 1.7x | yes |"
    )


def test_without_every_answers_latency_the_worst_rounds_percentiles_are_kept() -> None:
    """wrk reports percentiles, not every answer: they cannot be pooled, only bounded."""
    rounds = [
        taken("b, round 1", "bridge", started="s1", cpu_s=1.0, acked=10, p99=5.0),
        taken("b, round 2", "bridge", started="s2", cpu_s=1.0, acked=10, p99=7.0),
    ]
    rounds[0].latency_ms = {"p50": 3.0, "p90": 4.0, "p99": 5.0, "max": 20.0, "mean": 3.1}
    pooled = pooling.pooled("b", rounds, [None, None])
    # All from the round with the highest p99, not each figure's worst.
    assert pooled.latency_ms == {"p50": 1.0, "p90": 2.0, "p99": 7.0, "max": 9.0, "mean": 1.2}


def test_rounds_are_one_to_ten_from_the_command_line_and_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert parse(["--rounds", "1"], "").rounds == 1
    monkeypatch.setenv("BENCH_ROUNDS", "0")
    with pytest.raises(SystemExit):
        parse([], "")
    assert capsys.readouterr().err.splitlines()[-1] == (
        "python -m benchmarks: error: --rounds (BENCH_ROUNDS) must be 1 to 10, not 0"
    )
    with pytest.raises(SystemExit):
        parse(["--rounds", "11"], "")
    assert capsys.readouterr().err.splitlines()[-1] == (
        "python -m benchmarks: error: --rounds (BENCH_ROUNDS) must be 1 to 10, not 11"
    )


def test_the_saturated_plan_pairs_every_load_with_its_bare_ceiling(tmp_path: Path) -> None:
    bench = Bench(Options(out=tmp_path), "127.0.0.1:9092", None, tmp_path)
    names = [planned.name for planned in bench.saturating(["bridge"], ["librdkafka"])]
    assert names == [
        "bare-ceiling",
        "http-ceiling",
        "bridge",
        "bridge spread",
        "librdkafka",
        "librdkafka spread",
        "bare-ceiling c256",
        "bridge c256",
    ]
    only = Bench(Options(out=tmp_path, parts=("bare-ceiling",)), "b:1", None, tmp_path)
    assert [planned.name for planned in only.saturating(["bridge"], [])] == [
        "bare-ceiling",
        "bare-ceiling c256",
    ]
