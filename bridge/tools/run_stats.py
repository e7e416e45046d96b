"""What a reconciliation run did, and the metrics `--every` serves of it."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass
class RunStats:
    window_start: str
    window_end: str
    videos_listed: int = 0
    already_present: int = 0
    produced: int = 0
    invalid: int = 0
    records_read: int = 0
    api_calls: int = 0
    api_errors: int = 0
    api_rate_limited: int = 0
    duration_seconds: float = 0.0
    complete: bool = False
    dry_run: bool = False


class ReconcileMetrics:
    """Per run, for `--every` (served with `--metrics-port`)."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.runs = Counter("bridge_reconcile_runs", "Runs, by outcome", ["outcome"], registry=r)
        self.videos = Counter(
            "bridge_reconcile_videos",
            "Videos listed by the API, by what the run did with them",
            ["result"],
            registry=r,
        )
        self.api_calls = Counter("bridge_reconcile_api_calls", "Video API calls", registry=r)
        self.api_errors = Counter(
            "bridge_reconcile_api_errors", "Video API calls that failed", registry=r
        )
        self.duration = Gauge(
            "bridge_reconcile_last_run_duration_seconds", "Duration of the last run", registry=r
        )
        self.last_success = Gauge(
            "bridge_reconcile_last_success_timestamp_seconds",
            "When a run last checked its whole window",
            registry=r,
        )

    def record(self, stats: RunStats) -> None:
        self.runs.labels("complete" if stats.complete else "failed").inc()
        self.videos.labels("present").inc(stats.already_present)
        self.videos.labels("produced").inc(stats.produced)
        self.videos.labels("invalid").inc(stats.invalid)
        self.api_calls.inc(stats.api_calls)
        self.api_errors.inc(stats.api_errors)
        self.duration.set(stats.duration_seconds)
        if stats.complete:
            self.last_success.set_to_current_time()
