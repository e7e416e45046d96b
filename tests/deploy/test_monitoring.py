"""The chart's alerts (promtool check and unit tests), its dashboard, and the runbook.

What the chart renders for them is asserted by its helm-unittest suites
(helm/video-callback-bridge/tests/prometheusrule_test.yaml, grafana-dashboard_test.yaml),
and linted with both on by `make chart-check` (ci/monitoring-values.yaml). That every query
names what a running bridge exports: tests/e2e/test_monitoring.py.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml  # type: ignore[import-untyped]

from tests.helm_tools import (
    FULLNAME,
    REPO,
    Rendered,
    template,
    value_args,
)
from tests.monitoring_tools import (
    ALERT_TESTS,
    DASHBOARD,
    chart_rules,
    promtool,
    rule_expressions,
    write_rules,
)
from tests.tool_versions import pinned

GENERATOR = REPO / "deploy" / "grafana" / "dashboard.py"
RUNBOOK = REPO / "docs" / "runbook.md"
ALERTS = [
    "BridgeNotReady",
    "BridgeRefusingCallbacks",
    "BridgeServerErrors",
    "BridgeDeadLettersGrowing",
    "BridgeProducerReplaced",
    "BridgeNoCallbacks",
    "BridgeReconcileFoundMissing",
    "BridgeReconcileNotSucceeding",
]


pytestmark = pytest.mark.usefixtures("helm_installed", "promtool_installed")


def render(**values: object) -> Rendered:
    """`helm template` with values given as dotted keys (`__` for `.`)."""
    settings = {key.replace("__", "."): json.dumps(value) for key, value in values.items()}
    return template(*value_args(values=settings))


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("rules")
    write_rules(directory)
    return directory


# -- promtool --------------------------------------------------------------------------------


def test_promtool_is_the_pinned_version() -> None:
    module_version = re.fullmatch(r"v0\.(\d+)(\d\d)\.(\d+)", pinned("PROMTOOL_VERSION"))
    assert module_version is not None
    major, minor, patch = (int(part) for part in module_version.groups())

    done = promtool("--version")

    assert done.stdout.splitlines()[0].startswith(f"promtool, version {major}.{minor}.{patch} ")


def test_rules_pass_promtool_check(rules_dir: Path) -> None:
    done = promtool("check", "rules", "rules.yaml", cwd=rules_dir)

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in done.stdout


def test_each_alert_fires_and_does_not(rules_dir: Path) -> None:
    done = promtool("test", "rules", ALERT_TESTS.name, cwd=rules_dir)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_unit_tests_cover_every_alert_both_ways() -> None:
    tests = yaml.safe_load(ALERT_TESTS.read_text())["tests"]
    firing: set[str] = set()
    silent: set[str] = set()
    for case in tests:
        for check in case["alert_rule_test"]:
            (firing if check["exp_alerts"] else silent).add(check["alertname"])

    assert sorted(rule_expressions(chart_rules())) == sorted(ALERTS)
    assert sorted(firing) == sorted(ALERTS)
    assert sorted(silent) == sorted(ALERTS)


def test_thresholds_are_values_and_the_unit_tests_see_them(tmp_path: Path) -> None:
    # With a 10 % threshold the 9 % refusal of the unit test no longer fires.
    write_rules(tmp_path, prometheusRule__refusedShare=0.1)

    done = promtool("test", "rules", ALERT_TESTS.name, cwd=tmp_path)

    assert done.returncode == 1
    assert "alertname: BridgeRefusingCallbacks" in done.stdout + done.stderr
    assert "FAILED" in done.stdout + done.stderr


# -- the runbook -----------------------------------------------------------------------------


def test_every_alert_has_its_runbook_section() -> None:
    headings = re.findall(r"^## (\S+)$", RUNBOOK.read_text(), re.MULTILINE)
    rules = chart_rules()["groups"][0]["rules"]

    assert headings == ALERTS
    for rule in rules:
        assert rule["annotations"]["runbook_url"] == f"docs/runbook.md#{rule['alert'].lower()}"


# -- the dashboard's generator ---------------------------------------------------------------


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dashboard_generator", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_written_dashboard_is_what_the_generator_makes() -> None:
    done = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stderr


def test_the_charts_config_map_holds_the_generated_dashboard() -> None:
    """Byte for byte; the rest of the ConfigMap: the chart's grafana-dashboard_test.yaml."""
    config_map = render(grafanaDashboard__enabled=True).one("ConfigMap", f"{FULLNAME}-dashboard")

    assert config_map["data"] == {DASHBOARD.name: DASHBOARD.read_text()}


def test_the_check_fails_on_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    module = generator()
    monkeypatch.setattr(module, "REPO", tmp_path)
    edited = json.loads(DASHBOARD.read_text())
    edited["title"] = "edited by hand"
    copies = [tmp_path / "a" / DASHBOARD.name, tmp_path / "b" / DASHBOARD.name]
    copies[0].parent.mkdir()
    copies[0].write_text(json.dumps(edited))
    monkeypatch.setattr(module, "OUTPUTS", tuple(copies))

    assert module.main(["--check"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{Path('a') / DASHBOARD.name} is not what deploy/grafana/dashboard.py generates: "
        "run `make dashboard`",
        f"{Path('b') / DASHBOARD.name} is not what deploy/grafana/dashboard.py generates: "
        "run `make dashboard`",
    ]
    assert module.main([]) == 0
    assert module.main(["--check"]) == 0
    assert copies[0].read_text() == DASHBOARD.read_text()


def test_the_dashboard_has_the_panels_operators_look_at() -> None:
    board = json.loads(DASHBOARD.read_text())
    panels = [(p["type"], p["title"]) for p in board["panels"]]

    assert panels == [
        ("row", "Callbacks"),
        ("timeseries", "Callbacks by route and status"),
        ("timeseries", "Answer latency"),
        ("timeseries", "In flight"),
        ("timeseries", "Authentication failures by reason"),
        ("row", "Kafka"),
        ("timeseries", "Records produced by topic"),
        ("timeseries", "Dead letters by route and scope"),
        ("stat", "Pods ready for Kafka"),
        ("timeseries", "Kafka acknowledgement latency (p99)"),
        ("timeseries", "Producer errors and replacements"),
        ("row", "Reconciler"),
        ("timeseries", "Reconcile runs by outcome"),
        ("timeseries", "Videos reconciled by result"),
        ("timeseries", "Video API calls and errors"),
        ("timeseries", "Last reconcile run's duration"),
        ("stat", "Since the last complete reconcile run"),
    ]
    ids = [p["id"] for p in board["panels"]]
    assert ids == list(range(1, len(ids) + 1))
