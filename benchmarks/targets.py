"""The targets the bridge is measured against, and where a run leaves it."""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.results import Comparison, Round, Run

# End-to-end acknowledged callbacks/s, against the HTTP ceiling and the naive bridge.
OF_HTTP_CEILING = 0.6
OF_NAIVE = 3.0
# At half the maximum rate.
P99_MS = 20.0
# Peak resident memory, and its slope over a soak ("flat").
RSS_MB = 150.0
RSS_SLOPE_MB_PER_MIN = 0.5
# Cost per callback (issue 16), against the bare ceiling under the same load.
STEADY_RATE = 3000  # callbacks/s
STEADY_CPU_OF_BARE = 1.7  # at most, the bridge's CPU per callback over the bare ceiling's
STEADY_BROKER_US = 30.0  # at most, the broker's CPU per callback
STEADY_P99_MS = 10.0
SATURATED_CPU_OF_BARE = 1.8  # at most, at each saturating load
SATURATED_RATE_OF_BARE = 0.5  # at least


def comparisons(runs: list[Run], scale_workers: int) -> list[Comparison]:
    """Ratios and figures against the targets, from the runs of `make bench` by name."""
    by_name = {run.name: run for run in runs}
    out: list[Comparison] = []

    def paired(a: str, b: str) -> list[tuple[Round, Round]]:
        """Round by round, when both were pooled from as many rounds, taken in turn."""
        if a not in by_name or b not in by_name:
            return []
        ours, theirs = by_name[a].rounds, by_name[b].rounds
        if len(ours) != len(theirs) or any(
            not y.callbacks_per_s or not y.cpu_ms_per_callback for y in theirs
        ):
            return []
        return list(zip(ours, theirs, strict=True))

    def ratio(what: str, a: str, b: str, target: float | None) -> None:
        value = None
        if a in by_name and b in by_name and by_name[b].callbacks_per_s:
            value = by_name[a].callbacks_per_s / by_name[b].callbacks_per_s
        out.append(
            Comparison(
                what=what,
                value=value,
                unit="x",
                target="(for scale)" if target is None else f">= {target:g}",
                met=None if value is None or target is None else value >= target,
                rounds=[x.callbacks_per_s / y.callbacks_per_s for x, y in paired(a, b)],
            )
        )

    def p99(what: str, name: str) -> None:
        run = by_name.get(name)
        value = None if run is None or run.latency_ms is None else run.latency_ms["p99"]
        out.append(
            Comparison(
                what=what,
                value=value,
                unit=" ms",
                target=f"<= {P99_MS:g} ms",
                met=None if value is None else value <= P99_MS,
            )
        )

    def at_most(
        what: str, value: float | None, limit: float, unit: str, rounds: Sequence[float] = ()
    ) -> None:
        out.append(
            Comparison(
                what=what,
                value=value,
                unit=unit,
                target=f"<= {limit:g}{unit}",
                met=None if value is None else value <= limit,
                rounds=list(rounds),
            )
        )

    def cpu_ratio(a: str, b: str) -> float | None:
        if a not in by_name or b not in by_name or not by_name[b].cpu_ms_per_callback:
            return None
        return by_name[a].cpu_ms_per_callback / by_name[b].cpu_ms_per_callback

    def round_ratios(a: str, b: str) -> list[float]:
        return [x.cpu_ms_per_callback / y.cpu_ms_per_callback for x, y in paired(a, b)]

    steady = f"@{STEADY_RATE}/s"
    bare = f"bare-ceiling {steady}"
    for bridge in (f"bridge {steady}", f"bridge spread {steady}"):
        run = by_name.get(bridge)
        at_most(
            f"{bridge}: CPU per callback / the bare ceiling's",
            cpu_ratio(bridge, bare),
            STEADY_CPU_OF_BARE,
            "x",
            round_ratios(bridge, bare),
        )
        rounds = [] if run is None else run.rounds
        broker_us = None if run is None else run.broker_cpu_ms_per_callback * 1000
        at_most(
            f"{bridge}: broker CPU per callback",
            broker_us,
            STEADY_BROKER_US,
            " us",
            [each.broker_cpu_ms_per_callback * 1000 for each in rounds],
        )
        p99_ms = None if run is None or run.latency_ms is None else run.latency_ms["p99"]
        p99s = [each.p99_ms for each in rounds if each.p99_ms is not None]
        at_most(f"{bridge}: p99", p99_ms, STEADY_P99_MS, " ms", p99s)
    for suffix in ["", *(f" c{c}" for c in sorted(connections_of(runs)))]:
        bridge, ceiling = f"bridge{suffix}", f"bare-ceiling{suffix}"
        if suffix and bridge not in by_name:
            continue
        run = by_name.get(bridge)
        label = "" if run is None else f", wrk -c{run.connections}"
        at_most(
            f"{bridge} (saturated{label}): CPU per callback / the bare ceiling's",
            cpu_ratio(bridge, ceiling),
            SATURATED_CPU_OF_BARE,
            "x",
            round_ratios(bridge, ceiling),
        )
        ratio(
            f"{bridge} / bare ceiling (saturated{label})", bridge, ceiling, SATURATED_RATE_OF_BARE
        )

    n = scale_workers
    ratio("bridge / HTTP ceiling", "bridge", "http-ceiling", OF_HTTP_CEILING)
    ratio("bridge / naive bridge", "bridge", "naive", OF_NAIVE)
    ratio("bridge / Kafka ceiling (callbacks equivalent)", "bridge", "kafka-ceiling", None)
    p99("p99 at 50% of the maximum rate", "bridge @50%")
    peak = max(
        (r.rss_peak_mb for r in runs if r.server == "bridge" and r.workers == 1), default=None
    )
    out.append(
        Comparison(
            what="peak RSS of the bridge, 1 worker, any run",
            value=peak,
            unit=" MB",
            target=f"< {RSS_MB:g} MB (flat: make bench-soak)",
            met=None if peak is None else peak < RSS_MB,
        )
    )
    if f"bridge {n}w" in by_name:
        ratio(
            f"bridge / HTTP ceiling, {n} workers",
            f"bridge {n}w",
            f"http-ceiling {n}w",
            OF_HTTP_CEILING,
        )
        ratio(f"bridge at {n} workers / at 1", f"bridge {n}w", "bridge", None)
        p99(f"p99 at 50% of the maximum rate, {n} workers", f"bridge {n}w @50%")
    return out


def connections_of(runs: list[Run]) -> set[int]:
    """wrk's connections of the further saturating runs, named `<server> c<N>`."""
    found = set()
    for run in runs:
        head, _, tail = run.name.rpartition(" c")
        if head in ("bridge", "bare-ceiling") and tail.isdigit():
            found.add(int(tail))
    return found


def soak(run: Run) -> list[Comparison]:
    slope = run.rss_slope_mb_per_min or 0.0
    return [
        Comparison(
            what="peak RSS over the soak",
            value=run.rss_peak_mb,
            unit=" MB",
            target=f"< {RSS_MB:g} MB",
            met=run.rss_peak_mb < RSS_MB,
        ),
        Comparison(
            what="RSS slope after the first tenth (least squares)",
            value=slope,
            unit=" MB/min",
            target=f"flat: within ±{RSS_SLOPE_MB_PER_MIN:g} MB/min",
            met=abs(slope) < RSS_SLOPE_MB_PER_MIN,
        ),
    ]
