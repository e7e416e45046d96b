"""The dashboard and the alerts against what running processes export.

`bridge serve`, against the real broker, answers callbacks of every status (200, 400, 401,
405, 413, 415, 422, 503) and is scraped before and after. `bridge reconcile --every`,
against the same broker and the fake video API, is scraped as it starts and after two runs
(the first produces the videos the topic lacks, the second finds them present). Every
dashboard and rule expression must parse and name only metrics and labels from those scrapes
(or the target labels Prometheus adds), and promtool's rule-test engine, fed the scraped
series, must find data for every dashboard query.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml  # type: ignore[import-untyped]
from prometheus_client.parser import text_string_to_metric_families

from tests.fake_vod_api import FAST_API, Catalogue, FakeVideoApi, video
from tests.helm_tools import FULLNAME, NAMESPACE
from tests.kafka_tools import create_topics, unique_topic
from tests.monitoring_tools import (
    TARGET_LABELS,
    chart_rules,
    dashboard_queries,
    names_in,
    promtool,
    rule_expressions,
)
from tests.ports import free_port
from tests.samples import VIDEO_SAMPLE, sample_video, video_body
from tests.servers import BridgeProcess, bridge_env, fresh_settings

pytestmark = [pytest.mark.kafka, pytest.mark.usefixtures("promtool_installed")]

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
    (
        "POST",
        f"/callbacks/material-upload/{TOKEN}",
        b"{}",
        {"Content-Type": "application/xml"},
        415,
    ),
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
    """Two scrapes of one process, and the target labels Prometheus would attach to them."""

    before: str
    after: str
    target: dict[str, str]


@dataclass(frozen=True)
class BridgeScrapes(Scrapes):
    statuses: list[int]


@pytest.fixture(scope="module")
def scrapes(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> BridgeScrapes:
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
    target = {"namespace": NAMESPACE, "job": FULLNAME, "instance": f"127.0.0.1:{bridge.port}"}
    return BridgeScrapes(before, after, target, statuses)


# The reconciler is scraped as a job of its own (the rules' default `reconcileSelector`).
RECONCILER_JOB = f"{FULLNAME}-reconcile"
ACCESS_KEY = "ak-monitoring-test"
SECRET_KEY = "sk-monitoring-test-0123456789"
RECONCILED_VIDEOS = 3


def videos_by_result(text: str) -> dict[str, float]:
    return {
        sample.labels["result"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "bridge_reconcile_videos_total"
    }


def scrape_until(
    url: str, process: subprocess.Popen[bytes], done: Callable[[str], bool], log: Path
) -> str:
    """GET `url` until `done(text)`; fail early if the process dies."""
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"bridge reconcile exited with {process.returncode}:\n{log.read_text()}"
            )
        try:
            text = httpx.get(url, timeout=2).text
            if done(text):
                return text
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url}: not there within 60 s:\n{log.read_text()}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def reconciler_scrapes(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Scrapes:
    topic = unique_topic("video")
    asyncio.run(create_topics(kafka_bootstrap, topic))
    uploaded = int(datetime.now(UTC).timestamp()) - 600
    catalogue = Catalogue([video(n, uploaded + n) for n in range(RECONCILED_VIDEOS)])
    port = free_port()
    log = tmp_path_factory.mktemp("reconcile") / "reconcile.log"
    with FakeVideoApi(catalogue, access_key=ACCESS_KEY, secret_key=SECRET_KEY) as api:
        settings = {
            "kafka_bootstrap_servers": kafka_bootstrap,
            "topic_video_upload": topic,
            **api.client_settings(),
            **FAST_API,
        }
        env = bridge_env(settings)
        command = [sys.executable, "-m", "bridge", "reconcile", "--lookback", "1h"]
        command += ["--every", "1s", "--metrics-port", str(port)]
        with log.open("ab") as out:
            process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}/metrics"
            before = scrape_until(url, process, lambda text: True, log)
            # A second complete run: it found what the first one produced.
            after = scrape_until(
                url, process, lambda text: videos_by_result(text).get("present", 0) > 0, log
            )
        finally:
            process.terminate()
            process.wait(30)
    target = {"namespace": NAMESPACE, "job": RECONCILER_JOB, "instance": f"127.0.0.1:{port}"}
    return Scrapes(before, after, target)


@pytest.fixture(scope="module")
def targets(scrapes: BridgeScrapes, reconciler_scrapes: Scrapes) -> list[Scrapes]:
    return [scrapes, reconciler_scrapes]


@pytest.fixture(scope="module")
def exported(targets: list[Scrapes]) -> dict[str, frozenset[str]]:
    """Each series name of the scrapes, with the label names it has."""
    names: dict[str, set[str]] = {}
    for each in targets:
        for family in text_string_to_metric_families(each.after):
            for sample in family.samples:
                names.setdefault(sample.name, set()).update(sample.labels)
    return {name: frozenset(labels) for name, labels in names.items()}


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


def test_the_bridge_answered_every_status(scrapes: BridgeScrapes) -> None:
    assert scrapes.statuses == [expected for *_, expected in REQUESTS]


def test_the_reconciler_produced_the_missing_videos_then_found_them(
    reconciler_scrapes: Scrapes,
) -> None:
    videos = videos_by_result(reconciler_scrapes.after)

    assert (videos["produced"], videos["invalid"]) == (RECONCILED_VIDEOS, 0)
    # Every later run finds all of them (a run adds its counts at once).
    assert videos["present"] % RECONCILED_VIDEOS == 0


def test_every_expression_names_only_what_the_bridge_exports(
    exported: dict[str, frozenset[str]],
) -> None:
    expressions = all_expressions()
    unknown = {title: unknown_names(expr, exported) for title, expr in expressions.items()}

    assert len(expressions) == 21 + 8
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


def input_series(targets: list[Scrapes]) -> list[dict[str, str]]:
    """The scraped series as promtool input: the first scrape at 0m, the second from 1m on.

    A series that the first scrape lacks is a counter created later, and a counter starts
    at 0. The labels Prometheus would attach are added.
    """

    def samples(text: str, target: dict[str, str]) -> dict[str, float]:
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

    series = []
    for each in targets:
        before, after = samples(each.before, each.target), samples(each.after, each.target)
        series += [
            {"series": name, "values": f"{before.get(name, 0.0)!r} {value!r}x10"}
            for name, value in after.items()
        ]
    return series


def run_queries(tmp_path: Path, targets: list[Scrapes], queries: dict[str, str]) -> tuple[int, str]:
    """promtool's verdict on: every query returns at least one sample at EVAL_TIME."""
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(chart_rules()))
    tests = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": f"{INTERVAL_MINUTES}m",
        "tests": [
            {
                "interval": f"{INTERVAL_MINUTES}m",
                "input_series": input_series(targets),
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


def test_every_dashboard_query_returns_data(targets: list[Scrapes], tmp_path: Path) -> None:
    code, output = run_queries(tmp_path, targets, dashboard_queries())

    assert code == 0, output
    assert "SUCCESS" in output


def test_a_query_of_a_metric_the_bridge_does_not_export_fails(
    targets: list[Scrapes], tmp_path: Path
) -> None:
    wrong = "sum(rate(bridge_callbacks_total[10m]))"
    code, output = run_queries(tmp_path, targets, {**dashboard_queries(), "wrong": wrong})

    assert code == 1
    assert f'expr: "group({wrong})"' in output
    # Only that one: the dashboard's own queries still return data.
    assert output.count("expr: ") == 1
