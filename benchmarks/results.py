"""What a run measured, as JSON under bench-results/, and the table and ratios at the end."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import subprocess
from pathlib import Path

import msgspec

from benchmarks.loadgen import ROOT
from benchmarks.segments import Batches


class TopicCheck(msgspec.Struct, frozen=True, kw_only=True):
    """The topic against the answers: nothing acknowledged lost, nothing unexplained."""

    topic: str
    records: int  # records the run added to the topic
    acknowledged_videos: int  # videos of the callbacks answered 200
    excess: int  # records - acknowledged_videos
    excess_allowed: int  # records of callbacks whose answer was not 200 or not read
    exact: bool  # every callback sent was answered and counted
    ok: bool
    note: str


class Round(msgspec.Struct, frozen=True, kw_only=True):
    """One round's own figures, kept with the run that pools the rounds (`pooling`)."""

    started_at: str
    callbacks_per_s: float
    cpu_ms_per_callback: float
    broker_cpu_ms_per_callback: float
    p99_ms: float | None
    other_cpu_seconds: float
    attempts: int = 1


class Run(msgspec.Struct, kw_only=True):
    """One run: what was measured, how, and the topic check. The figures are filled in last."""

    name: str
    # bridge | reference | bare-ceiling | http-ceiling | librdkafka | naive | kafka-ceiling
    server: str
    mode: str  # saturation | fixed-rate | produce | soak
    workers: int
    body: str = "sample"  # sample | spread | N videos
    videos_per_callback: int
    body_bytes: int
    load_generator: str
    connections: int | None = None  # wrk's
    rate_offered: float | None = None  # callbacks/s, vegeta's
    started_at: str
    warmup_seconds: float
    seconds: float = 0.0  # the measured window, warm-up excluded
    callbacks_answered: int = 0
    callbacks_acknowledged: int = 0  # answered 200
    callbacks_per_s: float = 0.0  # acknowledged
    videos_per_s: float = 0.0  # acknowledged
    records_per_s: float | None = None  # the Kafka ceiling
    latency_ms: dict[str, float] | None = None  # p50, p90, p99, max, mean
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    cpu_seconds: float = 0.0  # the server's processes, all workers, in the measured window
    cpu_ms_per_callback: float = 0.0
    rss_peak_mb: float = 0.0  # largest sum over the server's processes, sampled from /proc
    rss_hwm_mb: float = 0.0  # the kernel's peak (VmHWM) of each process, summed
    pss_peak_mb: float = 0.0  # largest proportional set size: shared pages counted once
    rss_slope_mb_per_min: float | None = None  # the soak's
    rss_series_mb: list[tuple[float, float]] | None = None  # the soak's (seconds, MB)
    broker_cpu_seconds: float = 0.0
    broker_cpu_ms_per_callback: float = 0.0
    # The record batches the broker stored in the measured window (its log segments).
    kafka_batches: Batches | None = None
    loadgen_cpu_seconds: float = 0.0
    # Everything else on the machine in the window: other work that skews the figures.
    other_cpu_seconds: float = 0.0
    load_average: tuple[float, float] = (0.0, 0.0)  # 1-minute, at the start and end
    topic_check: TopicCheck | None = None
    attempts: int = 1  # runs disturbed by other work are run again; this one disturbed least
    rounds: list[Round] = []  # the rounds pooled into this run, in the order they ran


class Comparison(msgspec.Struct, frozen=True, kw_only=True):
    what: str
    value: float | None
    unit: str
    target: str
    met: bool | None
    rounds: list[float] = []  # the same figure from each round, when the runs were pooled


class Summary(msgspec.Struct, kw_only=True):
    started_at: str
    command: str
    machine: dict[str, str]
    options: dict[str, float | int | str]
    load_before: float
    quietness: str
    runs: list[Run]
    comparisons: list[Comparison]
    rounds: list[Run] = []  # the rounds that were pooled into runs, each as it ran
    profiles: dict[str, list[str]] = {}  # by load: functions by own and total time


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    info = {
        "nproc": str(os.cpu_count()),
        "cpu": _cpuinfo("model name"),
        "memory": f"{_meminfo_gib():.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "kafka": _kafka_version(),
        "commit": commit(ROOT),
    }
    for package in ("aiokafka", "uvicorn", "uvloop", "httptools", "starlette", "msgspec"):
        info[package] = _version(package)
    for package in ("fastapi", "pydantic"):
        info[package] = _version(package)
    return info


def _cpuinfo(field: str) -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith(field):
            return line.split(":", 1)[1].strip()
    return "unknown"


def _meminfo_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


def _kafka_version() -> str:
    pom = (ROOT / "deploy" / "kafka" / "pom.xml").read_text()
    found = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom)
    return f"Apache Kafka {found.group(1)} (local, KRaft, one node)" if found else "unknown"


def commit(root: Path) -> str:
    """The commit checked out at `root`, and whether its bridge/ has changes on top."""

    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=False
        )
        return result.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + (" (with local changes)" if git("status", "--porcelain", "--", "bridge") else "")


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def line(run: Run) -> str:
    """A run in a line or two, printed as it ends."""
    parts = [
        f"{run.name}: {run.callbacks_per_s:,.0f} callbacks/s, {run.videos_per_s:,.0f} videos/s"
    ]
    latency = run.latency_ms
    if latency:
        parts.append(
            f"p50 {latency['p50']:.1f} p90 {latency['p90']:.1f} p99 {latency['p99']:.1f} "
            f"max {latency['max']:.1f} ms"
        )
    parts.append(f"statuses {run.statuses} errors {run.errors}")
    parts.append(f"CPU {run.cpu_seconds:.1f} s, peak RSS {run.rss_peak_mb:.0f} MB")
    parts.append(
        f"CPU of the broker {run.broker_cpu_seconds:.1f} s, of the load generator "
        f"{run.loadgen_cpu_seconds:.1f} s, of other work {run.other_cpu_seconds:.1f} s"
    )
    if run.rounds:
        cpu = ", ".join(f"{each.cpu_ms_per_callback * 1000:.0f}" for each in run.rounds)
        p99 = ", ".join(f"{each.p99_ms or 0:.1f}" for each in run.rounds)
        parts.append(f"{len(run.rounds)} rounds pooled: CPU us/callback {cpu}; p99 {p99} ms")
    text = "; ".join(parts)
    check = run.topic_check
    if check is not None:
        text += f"\n  topic check {'ok' if check.ok else 'FAILED'}: {check.note}"
    return text


def _ms(latency: dict[str, float] | None, key: str) -> str:
    return "" if latency is None else f"{latency[key]:.1f}"


def table(runs: list[Run]) -> str:
    """A Markdown table, one line per run."""
    head = (
        "| run | load | callbacks/s | videos/s | p50 ms | p90 ms | p99 ms | max ms "
        "| not 200 | CPU s | CPU ms/callback | peak RSS MB | other CPU s | topic check |"
    )
    lines = [head, _rule(head)]
    for run in runs:
        if run.rate_offered is not None:
            load = f"vegeta {run.rate_offered:.0f}/s"
        elif run.mode == "produce":
            load = "aiokafka, no HTTP"
        else:
            load = f"wrk -c{run.connections}"
        not_ok = sum(n for status, n in run.statuses.items() if status != "200")
        not_ok += sum(run.errors.values())
        check = "" if run.topic_check is None else _check(run.topic_check)
        rate = run.callbacks_per_s
        if run.records_per_s is not None:
            videos = f"{run.records_per_s:,.0f} records/s"
        else:
            videos = f"{run.videos_per_s:,.0f}"
        lines.append(
            f"| {run.name} | {load} | {rate:,.0f} | {videos} "
            f"| {_ms(run.latency_ms, 'p50')} | {_ms(run.latency_ms, 'p90')} "
            f"| {_ms(run.latency_ms, 'p99')} | {_ms(run.latency_ms, 'max')} "
            f"| {not_ok} | {run.cpu_seconds:.1f} | {run.cpu_ms_per_callback:.2f} "
            f"| {_memory(run)} | {run.other_cpu_seconds:.1f} | {check} |"
        )
    return "\n".join(lines)


def _memory(run: Run) -> str:
    """Peak RSS; with several processes, also their PSS (shared pages counted once)."""
    if run.workers > 1:
        return f"{run.rss_peak_mb:.0f} (PSS {run.pss_peak_mb:.0f})"
    return f"{run.rss_peak_mb:.0f}"


def _check(check: TopicCheck) -> str:
    """`ok: 30000 = 30000`, or with the excess: `ok: 30064 = 30000 + 64`."""
    mark = "ok" if check.ok else "FAILED"
    extra = f" + {check.excess}" if check.excess else ""
    return f"{mark}: {check.records} = {check.acknowledged_videos}{extra}"


def _rule(head: str) -> str:
    return "|" + "---|" * (head.count("|") - 1)


BARE = "bare-ceiling"
CEILINGS = (BARE, "http-ceiling")
_ORDER = {BARE: 0, "http-ceiling": 1, "bridge": 2, "reference": 3, "librdkafka": 4, "naive": 5}


def _load(run: Run) -> tuple[int, float] | None:
    """Runs under the same load share a baseline: a fixed rate, or wrk's connections."""
    if run.mode == "fixed-rate" and run.rate_offered is not None:
        return 0, run.rate_offered
    if run.mode == "saturation" and run.connections is not None:
        return 1, float(run.connections)
    return None


def baselines(runs: list[Run]) -> dict[tuple[int, float], Run]:
    """The bare ceiling's run under each load, one worker, the vendor's sample."""
    found = {}
    for run in runs:
        load = _load(run)
        if run.server == BARE and run.workers == 1 and run.body == "sample" and load:
            found[load] = run
    return found


def costs_table(runs: list[Run]) -> str:
    """Per callback, against the bare ceiling under the same load: the server's CPU and the
    broker's, the batches the broker stored, latency. Loads without a bare run are left out."""
    bare = baselines(runs)
    head = (
        "| load | run | callbacks/s | x bare | CPU us/callback | x bare | broker CPU us/callback "
        "| records/batch | p50 ms | p99 ms |"
    )
    lines = [head, _rule(head)]
    chosen = [
        run
        for run in runs
        if (load := _load(run)) in bare and run.workers == 1 and run.body in ("sample", "spread")
    ]
    chosen.sort(
        key=lambda run: (
            _load(run),
            run.server not in CEILINGS,
            run.body,
            _ORDER.get(run.server, 9),
        )
    )
    for run in chosen:
        load = _load(run)
        assert load is not None
        base = bare[load]
        cpu = run.cpu_ms_per_callback * 1000
        kind = f"vegeta {run.rate_offered:,.0f}/s" if load[0] == 0 else f"wrk -c{run.connections}"
        batches = run.kafka_batches
        lines.append(
            f"| {kind} | {run.name} | {run.callbacks_per_s:,.0f} "
            f"| {_ratio(run.callbacks_per_s, base.callbacks_per_s)} | {cpu:.0f} "
            f"| {_ratio(run.cpu_ms_per_callback, base.cpu_ms_per_callback)} "
            f"| {run.broker_cpu_ms_per_callback * 1000:.0f} "
            f"| {'' if batches is None else f'{batches.records_per_batch:.1f}'} "
            f"| {_ms(run.latency_ms, 'p50')} | {_ms(run.latency_ms, 'p99')} |"
        )
    return "\n".join(lines)


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}" if base else ""


def comparisons_table(comparisons: list[Comparison]) -> str:
    lines = ["| what | value | target | met |", "|---|---|---|---|"]
    for c in comparisons:
        value = "n/a" if c.value is None else f"{c.value:,.2f}{c.unit}"
        if c.rounds:
            value += f" (rounds: {', '.join(f'{each:,.2f}' for each in c.rounds)})"
        met = "n/a" if c.met is None else ("yes" if c.met else "no")
        lines.append(f"| {c.what} | {value} | {c.target} | {met} |")
    return "\n".join(lines)


def write(path: Path, value: msgspec.Struct) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msgspec.json.format(msgspec.json.encode(value), indent=2) + b"\n")
