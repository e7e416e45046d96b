"""Rounds of the runs, taken in turn and pooled into one figure per server and load.

The machine's speed drifts by more than the differences measured: the same server, run
after run with no other work, cost 15 to 20 % more or less a callback. A ratio between
two runs minutes apart says as much about that drift as about the servers. So the
servers run in turn, round after round, each seeing the same stretches of the drift,
and each server's rounds under each load are pooled: CPU, callbacks and batches summed,
latency percentiles taken over every answer of every round where the load generator
gives every answer's latency (vegeta), and otherwise (wrk gives its percentiles only)
those of the round with the highest p99. Each round's own figures are kept with the
pooled run (`Run.rounds`), so the spread stays visible.
"""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.loadgen import percentiles
from benchmarks.results import Round, Run, TopicCheck
from benchmarks.segments import Batches


def round_name(name: str, number: int) -> str:
    return f"{name}, round {number}"


def pooled(name: str, rounds: Sequence[Run], latencies_ns: Sequence[Sequence[int] | None]) -> Run:
    """One run of `rounds` (of one server under one load); `latencies_ns` are each round's
    latencies of every answer in its measured window, None where they are not known."""
    if not rounds or len(rounds) != len(latencies_ns):
        raise ValueError("one list of latencies for each round, and at least one round")
    first, last = rounds[0], rounds[-1]
    seconds = sum(run.seconds for run in rounds)
    acked = sum(run.callbacks_acknowledged for run in rounds)
    cpu = sum(run.cpu_seconds for run in rounds)
    broker = sum(run.broker_cpu_seconds for run in rounds)
    per_s = acked / seconds if seconds else 0.0
    return Run(
        name=name,
        server=first.server,
        mode=first.mode,
        workers=first.workers,
        body=first.body,
        videos_per_callback=first.videos_per_callback,
        body_bytes=first.body_bytes,
        load_generator=first.load_generator,
        connections=first.connections,
        rate_offered=first.rate_offered,
        started_at=first.started_at,
        warmup_seconds=first.warmup_seconds,
        seconds=round(seconds, 3),
        callbacks_answered=sum(run.callbacks_answered for run in rounds),
        callbacks_acknowledged=acked,
        callbacks_per_s=round(per_s, 1),
        videos_per_s=round(per_s * first.videos_per_callback, 1),
        latency_ms=_latency(rounds, latencies_ns),
        statuses=_summed([run.statuses for run in rounds]),
        errors=_summed([run.errors for run in rounds]),
        cpu_seconds=round(cpu, 2),
        cpu_ms_per_callback=round(cpu * 1000 / max(1, acked), 3),
        rss_peak_mb=max(run.rss_peak_mb for run in rounds),
        rss_hwm_mb=max(run.rss_hwm_mb for run in rounds),
        pss_peak_mb=max(run.pss_peak_mb for run in rounds),
        broker_cpu_seconds=round(broker, 2),
        broker_cpu_ms_per_callback=round(broker * 1000 / max(1, acked), 3),
        kafka_batches=_batches([run.kafka_batches for run in rounds]),
        loadgen_cpu_seconds=round(sum(run.loadgen_cpu_seconds for run in rounds), 2),
        other_cpu_seconds=round(sum(run.other_cpu_seconds for run in rounds), 2),
        load_average=(first.load_average[0], last.load_average[1]),
        topic_check=_topic_check([run.topic_check for run in rounds]),
        attempts=max(run.attempts for run in rounds),  # each round's are in `rounds`
        rounds=[_round(run) for run in rounds],
    )


def _latency(
    rounds: Sequence[Run], latencies_ns: Sequence[Sequence[int] | None]
) -> dict[str, float] | None:
    known = [each for each in latencies_ns if each is not None]
    if len(known) == len(latencies_ns):
        return percentiles([ns for each in known for ns in each])
    figures = [run.latency_ms for run in rounds if run.latency_ms]
    # Percentiles of separate rounds cannot be pooled: the worst round's, all from one.
    return max(figures, key=lambda each: each["p99"], default=None)


def _round(run: Run) -> Round:
    return Round(
        started_at=run.started_at,
        callbacks_per_s=run.callbacks_per_s,
        cpu_ms_per_callback=run.cpu_ms_per_callback,
        broker_cpu_ms_per_callback=run.broker_cpu_ms_per_callback,
        p99_ms=None if run.latency_ms is None else run.latency_ms["p99"],
        other_cpu_seconds=run.other_cpu_seconds,
        attempts=run.attempts,
    )


def _summed(counts: Sequence[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for each in counts:
        for key, n in each.items():
            total[key] = total.get(key, 0) + n
    return dict(sorted(total.items()))


def _batches(found: Sequence[Batches | None]) -> Batches | None:
    """The rounds' batches together; unknown when any round's are (segments not readable)."""
    known = [each for each in found if each is not None]
    if not known or len(known) != len(found):
        return None
    batches = sum(each.batches for each in known)
    records = sum(each.records for each in known)
    stored = sum(each.bytes_per_batch * each.batches for each in known)
    return Batches(
        batches=batches,
        records=records,
        records_per_batch=round(records / batches, 1) if batches else 0.0,
        bytes_per_batch=round(stored / batches, 1) if batches else 0.0,
        partitions=max(each.partitions for each in known),
        codecs=sorted({codec for each in known for codec in each.codecs}),
    )


def _topic_check(found: Sequence[TopicCheck | None]) -> TopicCheck | None:
    """Every round's topic check, as one: ok only when each is (each has a topic of its own)."""
    checks = [each for each in found if each is not None]
    if not checks:
        return None
    return TopicCheck(
        topic=", ".join(check.topic for check in checks),
        records=sum(check.records for check in checks),
        acknowledged_videos=sum(check.acknowledged_videos for check in checks),
        excess=sum(check.excess for check in checks),
        excess_allowed=sum(check.excess_allowed for check in checks),
        exact=all(check.exact for check in checks),
        ok=len(checks) == len(found) and all(check.ok for check in checks),
        note="; ".join(
            f"round {number}: {check.note}" for number, check in enumerate(checks, start=1)
        ),
    )
