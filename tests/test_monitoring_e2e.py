"""The dashboard and the alerts against what a running bridge exports.

`bridge serve`, against the real broker, answers callbacks of every status (200, 400, 401,
405, 413, 415, 422, 503) and is scraped before and after. Every dashboard and rule
expression must parse and name only metrics and labels from that scrape (or the target
labels Prometheus adds), and promtool's rule-test engine, fed the scraped series, must find
data for every dashboard query.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml  # type: ignore[import-untyped]
from prometheus_client.parser import text_string_to_metric_families

from tests.helm_tools import FULLNAME, NAMESPACE
from tests.monitoring_tools import (
    TARGET_LABELS,
    PromtoolMissing,
    chart_rules,
    dashboard_queries,
    names_in,
    promtool,
    rule_expressions,
)
from tests.samples import VIDEO_SAMPLE, sample_video, video_body
from tests.servers import BridgeProcess, fresh_settings

pytestmark = pytest.mark.kafka

TOKEN = "monitoring-test-token-0123"
MAX_BODY = 8192
JSON = {"Content-Type": "application/json"}
# What each request is answered: one of every status the bridge gives.
REQUESTS: list[tuple[str, str, bytes, dict[str, str], int]] = [
    ("POST", f"/callbacks/video-upload/{TOKEN}", VIDEO_SAMPLE, JSON, 200),
    (
        "POST",
        f"/callbacks/video-upload/{TOKEN}",
        video_body(sample_video(videoId="monitoring-1"), sample_video(videoId="")),
        JSON,
        200,
    ),
    ("POST", f"/callbacks/video-upload/{TOKEN}", b"not json", JSON, 400),
    ("POST", f"/callbacks/material-upload/{TOKEN}", b"{}", {"Content-Type": "text/plain"}, 415),
    ("POST", f"/callbacks/video-upload/{TOKEN}", b'{"code":200,"data":{}}', JSON, 422),
    ("POST", "/callbacks/video-upload", VIDEO_SAMPLE, JSON, 401),
    ("POST", f"/callbacks/video-upload/{TOKEN}", b" " * (MAX_BODY + 1), JSON, 413),
    # Three records where two may wait for Kafka: refused for now.
    (
        "POST",
        f"/callbacks/video-upload/{TOKEN}",
        video_body(*(sample_video(videoId=f"monitoring-{n}") for n in (2, 3, 4))),
        JSON,
        503,
    ),
    ("GET", f"/callbacks/video-upload/{TOKEN}", b"", {}, 405),
]
INTERVAL_MINUTES = 1
EVAL_TIME = "5m"


@dataclass(frozen=True)
class Scrapes:
    before: str
    after: str
    statuses: list[int]
    instance: str


@pytest.fixture(scope="module")
def scrapes(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Scrapes:
    settings = fresh_settings(
        kafka_bootstrap,
        auth_tokens=TOKEN,
        max_records_in_flight="2",
        max_body_bytes=str(MAX_BODY),
    )
    log = tmp_path_factory.mktemp("monitoring") / "bridge.log"
    with BridgeProcess(log, **settings) as bridge, httpx.Client(base_url=bridge.url) as client:
        before = client.get("/metrics").text
        statuses = [
            client.request(method, path, content=body, headers=headers).status_code
            for method, path, body, headers, _ in REQUESTS
        ]
        after = client.get("/metrics").text
    return Scrapes(before, after, statuses, f"127.0.0.1:{bridge.port}")


@pytest.fixture(scope="module")
def exported(scrapes: Scrapes) -> dict[str, frozenset[str]]:
    """Each series name of the scrape, with the label names it has."""
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(scrapes.after):
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return {name: frozenset(labels) for name, labels in names.items()}


@pytest.fixture(scope="module", autouse=True)
def has_promtool() -> None:
    try:
        promtool("--version")
    except PromtoolMissing as error:
        pytest.fail(str(error), pytrace=False)


def all_expressions() -> dict[str, str]:
    rules = {f"alert {name}": expr for name, expr in rule_expressions(chart_rules()).items()}
    return {**dashboard_queries(), **rules}


def unknown_names(expr: str, exported: dict[str, frozenset[str]]) -> list[str]:
    """The metrics and labels `expr` names that the bridge does not export."""
    names = names_in(expr)
    missing = [f"metric {m}" for m in sorted(names.metrics - exported.keys())]
    known_labels = TARGET_LABELS.union(*(exported.get(m, frozenset()) for m in names.metrics))
    missing += [f"label {label}" for label in sorted(names.labels - known_labels)]
    return missing


def test_the_bridge_answered_every_status(scrapes: Scrapes) -> None:
    assert scrapes.statuses == [expected for *_, expected in REQUESTS]


def test_every_expression_names_only_what_the_bridge_exports(
    exported: dict[str, frozenset[str]],
) -> None:
    expressions = all_expressions()
    unknown = {title: unknown_names(expr, exported) for title, expr in expressions.items()}

    assert len(expressions) == 15 + 6
    assert {title: names for title, names in unknown.items() if names} == {}


def test_the_name_check_finds_what_is_not_exported(exported: dict[str, frozenset[str]]) -> None:
    assert unknown_names("sum(rate(bridge_callbacks_total[5m]))", exported) == [
        "metric bridge_callbacks_total"
    ]
    assert unknown_names("sum by (kind) (rate(bridge_records_produced_total[5m]))", exported) == [
        "label kind"
    ]
    assert unknown_names('bridge_kafka_ready{pod="x"} == 0', exported) == ["label pod"]
    with pytest.raises(ValueError, match="unclosed left parenthesis"):
        names_in("sum(rate(bridge_records_produced_total[5m])")


# -- every dashboard query, evaluated by promtool over the scraped series -----------------------


def input_series(scrapes: Scrapes) -> list[dict[str, str]]:
    """The scraped series as promtool input: the first scrape at 0m, the second from 1m on.

    A series that the first scrape lacks is a counter created by a later callback, and a
    counter starts at 0. The labels Prometheus would attach are added.
    """
    target = {"namespace": NAMESPACE, "job": FULLNAME, "instance": scrapes.instance}

    def samples(text: str) -> dict[str, float]:
        found = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name.endswith("_created"):
                    continue  # creation timestamps: no query uses them
                labels = ", ".join(
                    f"{name}={json.dumps(value)}"
                    for name, value in sorted({**sample.labels, **target}.items())
                )
                found[f"{sample.name}{{{labels}}}"] = sample.value
        return found

    before, after = samples(scrapes.before), samples(scrapes.after)
    return [
        {"series": series, "values": f"{before.get(series, 0.0)!r} {value!r}x10"}
        for series, value in after.items()
    ]


def run_queries(tmp_path: Path, scrapes: Scrapes, queries: dict[str, str]) -> tuple[int, str]:
    """promtool's verdict on: every query returns at least one sample at EVAL_TIME."""
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(chart_rules()))
    tests = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": f"{INTERVAL_MINUTES}m",
        "tests": [
            {
                "interval": f"{INTERVAL_MINUTES}m",
                "input_series": input_series(scrapes),
                "promql_expr_test": [
                    # group() is 1 with no labels when the query has data, and empty otherwise.
                    {
                        "expr": f"group({expr})",
                        "eval_time": EVAL_TIME,
                        "exp_samples": [{"labels": "{}", "value": 1}],
                    }
                    for expr in queries.values()
                ],
            }
        ],
    }
    (tmp_path / "queries_test.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    done = promtool("test", "rules", "queries_test.yaml", cwd=tmp_path)
    return done.returncode, done.stdout + done.stderr


def test_every_dashboard_query_returns_data(scrapes: Scrapes, tmp_path: Path) -> None:
    code, output = run_queries(tmp_path, scrapes, dashboard_queries())

    assert code == 0, output
    assert "SUCCESS" in output


def test_a_query_of_a_metric_the_bridge_does_not_export_fails(
    scrapes: Scrapes, tmp_path: Path
) -> None:
    wrong = "sum(rate(bridge_callbacks_total[10m]))"
    code, output = run_queries(tmp_path, scrapes, {**dashboard_queries(), "wrong": wrong})

    assert code == 1
    assert f'expr: "group({wrong})"' in output
    # Only that one: the dashboard's own queries still return data.
    assert output.count("expr: ") == 1
