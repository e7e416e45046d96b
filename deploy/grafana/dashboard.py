"""Generates the bridge's Grafana dashboard with grafana-foundation-sdk.

    python deploy/grafana/dashboard.py           # write the JSON (`make dashboard`)
    python deploy/grafana/dashboard.py --check   # exit 1 if a written copy differs

The JSON is written twice, byte for byte the same: into deploy/grafana/ for import by
hand, and into the chart, whose ConfigMap can only read files inside the chart. Neither is
edited by hand. Every query names only what `bridge serve` (or, in the Reconciler row,
`bridge reconcile --every`) exports on /metrics, plus the `namespace` and `job` labels that
Prometheus attaches to a scraped target; tests/e2e/test_monitoring.py checks them against
running processes.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.builders.common import VizLegendOptions
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import LegendDisplayMode, LegendPlacement
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    VariableModel,
    VariableRefresh,
    VariableSort,
)

REPO = Path(__file__).resolve().parent.parent.parent
FILE_NAME = "video-callback-bridge.json"
OUTPUTS = (
    REPO / "deploy" / "grafana" / FILE_NAME,
    REPO / "helm" / "video-callback-bridge" / "dashboards" / FILE_NAME,
)

DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
# Every query is narrowed to the chosen namespace and job.
TARGET = 'namespace=~"$namespace", job=~"$job"'
CALLBACKS = f'{TARGET}, route=~"/callbacks/.+"'
RECONCILER = 'namespace=~"$namespace"'
RATE = "[$__rate_interval]"

Panel = timeseries.Panel | stat.Panel


def query(expr: str, legend: str) -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).datasource(DATASOURCE)


def graph(
    title: str, unit: str, description: str, *queries: prometheus.Dataquery
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .min(0)
        .datasource(DATASOURCE)
        .legend(
            VizLegendOptions()
            .display_mode(LegendDisplayMode.TABLE)
            .placement(LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["mean", "max"])
        )
        .span(12)
        .height(8)
    )
    for each in queries:
        panel = panel.with_target(each)
    return panel


def traffic() -> list[Panel]:
    return [
        graph(
            "Callbacks by route and status",
            "reqps",
            "Callbacks answered per second. 503 means refused for now (the platform retries); "
            "4xx are refused for good, their bodies kept in the dead-letter topic.",
            query(
                f"sum by (route, status) (rate(bridge_http_requests_total{{{CALLBACKS}}}{RATE}))",
                "{{route}} {{status}}",
            ),
        ),
        graph(
            "Answer latency",
            "s",
            "Time to answer a callback; a 200 includes waiting for every Kafka acknowledgement.",
            *(
                query(
                    f"histogram_quantile({q}, sum by (le, route) "
                    f"(rate(bridge_http_request_duration_seconds_bucket{{{CALLBACKS}}}{RATE})))",
                    f"p{round(q * 100)} {{{{route}}}}",
                )
                for q in (0.5, 0.99)
            ),
        ),
        graph(
            "In flight",
            "short",
            "Callbacks being handled and records waiting for Kafka, summed over the pods. "
            "Near BRIDGE_MAX_REQUESTS_IN_FLIGHT or BRIDGE_MAX_RECORDS_IN_FLIGHT the bridge "
            "answers 503.",
            query(f"sum(bridge_http_requests_in_flight{{{TARGET}}})", "callbacks"),
            query(f"sum(bridge_records_in_flight{{{TARGET}}})", "records"),
        ),
        graph(
            "Authentication failures by reason",
            "reqps",
            "Requests refused with 401 or 403, before their body was read.",
            query(
                f"sum by (reason) (rate(bridge_auth_failures_total{{{TARGET}}}{RATE}))",
                "{{reason}}",
            ),
        ),
    ]


def kafka() -> list[Panel]:
    return [
        graph(
            "Records produced by topic",
            "ops",
            "Records acknowledged by Kafka per second; the dead-letter topic is one of them.",
            query(
                f"sum by (topic) (rate(bridge_records_produced_total{{{TARGET}}}{RATE}))",
                "{{topic}}",
            ),
        ),
        graph(
            "Dead letters by route and scope",
            "ops",
            "Bodies (scope body: the whole callback was refused) and items (scope item: the "
            "rest of the callback was forwarded) kept in the dead-letter topic.",
            query(
                f"sum by (route, scope) "
                f"(rate(bridge_records_dead_lettered_total{{{TARGET}}}{RATE}))",
                "{{route}} {{scope}}",
            ),
        ),
        stat.Panel()
        .title("Pods ready for Kafka")
        .description("Pods whose producer is connected and whose metadata is fresh, of all pods.")
        .datasource(DATASOURCE)
        .with_target(query(f"sum(bridge_kafka_ready{{{TARGET}}})", "ready"))
        .with_target(query(f"count(bridge_kafka_ready{{{TARGET}}})", "pods"))
        .span(6)
        .height(8),
        graph(
            "Kafka acknowledgement latency (p99)",
            "s",
            "Time from handing a callback's records to Kafka until all are acknowledged.",
            query(
                f"histogram_quantile(0.99, sum by (le) "
                f"(rate(bridge_produce_duration_seconds_bucket{{{TARGET}}}{RATE})))",
                "p99",
            ),
        ).span(6),
        graph(
            "Producer errors and replacements",
            "short",
            "Publishes that failed, by cause, and producers replaced because they stopped "
            "delivering (counts per interval).",
            query(
                f"sum by (error) (increase(bridge_producer_errors_total{{{TARGET}}}{RATE}))",
                "{{error}}",
            ),
            query(
                f"sum(increase(bridge_producer_recreations_total{{{TARGET}}}{RATE}))",
                "producer replaced",
            ),
        ),
    ]


def reconciler() -> list[Panel]:
    """The figures of `bridge reconcile --every ... --metrics-port PORT`.

    The reconciler is scraped as a job of its own, so its panels are narrowed by namespace
    only: the job variable lists the bridges.
    """
    return [
        graph(
            "Reconcile runs by outcome",
            "short",
            "Runs per interval: complete ones checked their whole window, failed ones are "
            "retried the next period.",
            query(
                f"sum by (outcome) (increase(bridge_reconcile_runs_total{{{RECONCILER}}}{RATE}))",
                "{{outcome}}",
            ),
        ).span(8),
        graph(
            "Videos reconciled by result",
            "short",
            "Videos the API listed, per interval: present (the topic had them), produced (the "
            "callbacks never delivered them: callbacks are lost upstream), invalid.",
            query(
                f"sum by (result) (increase(bridge_reconcile_videos_total{{{RECONCILER}}}{RATE}))",
                "{{result}}",
            ),
        ).span(8),
        graph(
            "Video API calls and errors",
            "short",
            "Calls of the video API per interval, and those that failed.",
            query(
                f"sum(increase(bridge_reconcile_api_calls_total{{{RECONCILER}}}{RATE}))",
                "calls",
            ),
            query(
                f"sum(increase(bridge_reconcile_api_errors_total{{{RECONCILER}}}{RATE}))",
                "errors",
            ),
        ).span(8),
        graph(
            "Last reconcile run's duration",
            "s",
            "How long the last run took; near the period (--every) runs follow without a pause.",
            query(
                f"max by (instance) (bridge_reconcile_last_run_duration_seconds{{{RECONCILER}}})",
                "{{instance}}",
            ),
        ).span(12),
        stat.Panel()
        .title("Since the last complete reconcile run")
        .description("Time since a run last checked its whole window.")
        .unit("s")
        .datasource(DATASOURCE)
        .with_target(
            query(
                f"time() - max(bridge_reconcile_last_success_timestamp_seconds{{{RECONCILER}}})",
                "since",
            )
        )
        .span(12)
        .height(8),
    ]


def variables() -> list[Builder[VariableModel]]:
    datasource = dash.DatasourceVariable("datasource").label("Data source").type("prometheus")
    namespace = (
        dash.QueryVariable("namespace")
        .label("Namespace")
        .datasource(DATASOURCE)
        .query("label_values(bridge_kafka_ready, namespace)")
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .include_all(True)
        .all_value(".*")
        .multi(True)
    )
    job = (
        dash.QueryVariable("job")
        .label("Job")
        .datasource(DATASOURCE)
        .query('label_values(bridge_kafka_ready{namespace=~"$namespace"}, job)')
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .include_all(True)
        .all_value(".*")
        .multi(True)
    )
    return [datasource, namespace, job]


def build() -> dash.Dashboard:
    board = (
        dash.Dashboard("Video callback bridge")
        .uid("video-callback-bridge")
        .description(
            "CDNetworks Cloud VoD callbacks to Kafka: traffic, Kafka, refusals, reconciliation."
        )
        .tags(["video-callback-bridge", "kafka"])
        .editable()
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .refresh("30s")
        .time("now-3h", "now")
        .timezone("browser")
        .variables(variables())
    )
    # Grafana wants ids unique within the dashboard; stable ones keep the JSON stable.
    ids = itertools.count(1)
    rows = [("Callbacks", traffic()), ("Kafka", kafka()), ("Reconciler", reconciler())]
    for title, panels in rows:
        board = board.with_row(dash.Row(title).id(next(ids)))
        for panel in panels:
            board = board.with_panel(panel.id(next(ids)))
    return board


def render() -> str:
    return JSONEncoder(sort_keys=True, indent=2).encode(build().build()) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a written copy differs")
    args = parser.parse_args(argv)
    text = render()
    stale = [path for path in OUTPUTS if not path.exists() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(
                f"{path.relative_to(REPO)} is not what deploy/grafana/dashboard.py generates: "
                "run `make dashboard`",
                file=sys.stderr,
            )
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
