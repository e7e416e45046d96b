"""The chart's alert rules and the dashboard's queries, and the pinned promtool to check them."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import promql_parser
import yaml  # type: ignore[import-untyped]

from tests.helm_tools import REPO, template, value_args

PROMTOOL = REPO / ".tools" / "bin" / "promtool"
DASHBOARD = REPO / "deploy" / "grafana" / "video-callback-bridge.json"
ALERT_TESTS = Path(__file__).resolve().parent / "monitoring" / "alerts_test.yaml"
# Labels Prometheus attaches to every series it scrapes through the chart's ServiceMonitor;
# the rules and the dashboard select a release by them.
TARGET_LABELS = frozenset({"namespace", "job", "instance"})
# What the dashboard's variables and `$__rate_interval` stand for when its queries are run.
GRAFANA_VARIABLES = {"$namespace": ".*", "$job": ".*", "$__rate_interval": "10m"}


class PromtoolMissing(RuntimeError):
    pass


def promtool(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    if not PROMTOOL.is_file():
        raise PromtoolMissing(
            f"promtool is not installed at {PROMTOOL.relative_to(REPO)}: run `make tools` "
            "(builds the pinned version with `go install`)"
        )
    return subprocess.run(
        [str(PROMTOOL), *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def chart_rules(**values: object) -> dict[str, Any]:
    """The rule groups of the chart's PrometheusRule, rendered with these values (`__` for `.`)."""
    settings = {"prometheusRule.enabled": "true"}
    settings.update({key.replace("__", "."): json.dumps(value) for key, value in values.items()})
    rendered = template(*value_args(values=settings))
    spec: dict[str, Any] = rendered.one("PrometheusRule")["spec"]
    return spec


def write_rules(directory: Path, **values: object) -> Path:
    """The chart's rules as a Prometheus rule file, with the alert tests beside it."""
    rules = directory / "rules.yaml"
    rules.write_text(yaml.safe_dump(chart_rules(**values), sort_keys=False))
    (directory / ALERT_TESTS.name).write_text(ALERT_TESTS.read_text())
    return rules


def rule_expressions(groups: dict[str, Any]) -> dict[str, str]:
    return {rule["alert"]: rule["expr"] for group in groups["groups"] for rule in group["rules"]}


def dashboard_queries(board: dict[str, Any] | None = None) -> dict[str, str]:
    """Every query of the dashboard, by panel title (and variable name), as PromQL.

    Grafana's variables are replaced by what they stand for, and a variable's
    `label_values(selector, label)` by the PromQL that asks the same.
    """
    if board is None:
        board = json.loads(DASHBOARD.read_text())
    queries: dict[str, str] = {}
    for panel in board["panels"]:
        for number, target in enumerate(panel.get("targets", []), 1):
            queries[f"{panel['title']} #{number}"] = _substituted(target["expr"])
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            found = re.fullmatch(r"label_values\((.*), *(\w+)\)", variable["query"])
            assert found, f"variable {variable['name']}: not label_values(): {variable['query']}"
            selector, label = found.groups()
            queries[f"variable {variable['name']}"] = _substituted(
                f"group by ({label}) ({selector})"
            )
    return queries


def _substituted(expr: str) -> str:
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


@dataclass(frozen=True)
class Names:
    """The metric names and label names that one PromQL expression uses."""

    metrics: frozenset[str]
    labels: frozenset[str]


def names_in(expr: str) -> Names:
    """Parse `expr` (raising ValueError when it is not PromQL) and collect what it names."""
    metrics: set[str] = set()
    labels: set[str] = set()
    for node in _nodes(promql_parser.parse(expr)):
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                metrics.add(node.name)
            labels.update(m.name for m in node.matchers.matchers if m.name != "__name__")
        modifier = getattr(node, "modifier", None)
        if isinstance(node, promql_parser.AggregateExpr) and modifier is not None:
            labels.update(modifier.labels)
        if isinstance(node, promql_parser.BinaryExpr) and modifier is not None:
            if modifier.matching is not None:
                labels.update(modifier.matching.labels)
            labels.update(modifier.group_labels or ())
    return Names(frozenset(metrics), frozenset(labels))


def _nodes(node: Any) -> Iterator[Any]:
    yield node
    for child in ("expr", "lhs", "rhs", "param"):
        value = getattr(node, child, None)
        if value is not None and not isinstance(value, (str, int, float)):
            yield from _nodes(value)
    if isinstance(node, promql_parser.Call):
        for argument in node.args:
            yield from _nodes(argument)
    if isinstance(node, promql_parser.MatrixSelector):
        yield from _nodes(node.vector_selector)
