"""What the reliability tests measured: per fault scenario, and per property-test case.

Collected during the run, printed at its end (see conftest.py) and, when
`RELIABILITY_REPORT_DIR` is set, written there as JSON for docs/reliability.md.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPORT_DIR_VARIABLE = "RELIABILITY_REPORT_DIR"


@dataclass
class ScenarioReport:
    scenario: str
    profile: str
    seconds: float  # how long the traffic ran
    callbacks: int  # distinct callbacks (each with its own video ids)
    attempts: int  # requests, retries included
    answered_200: int
    answered_503: int
    connection_failures: int
    other_statuses: dict[str, int]  # must stay empty
    given_up: int  # callbacks never answered 200, all attempts spent
    acknowledged: int  # video events answered 200
    records: int  # records in the topic afterwards
    lost: int  # acknowledged but not in the topic: must be 0
    duplicates: int  # records beyond the first of each event (same key, value, ce_id)
    stored_unacknowledged: int  # in the topic although never answered 200 (allowed)
    late_copies: int  # a copy of an older version after a newer one of the same key
    order_violations: int  # acknowledged versions of a key stored out of order: must be 0
    recover_seconds: float  # fault removed -> first 200 to a callback sent after that
    unavailable_seconds: float  # fault began -> that same 200: the outage the sender saw
    notes: dict[str, Any] = field(default_factory=dict)


SCENARIOS: list[ScenarioReport] = []
CASES: dict[tuple[str, str], Counter[int]] = {}


def add_scenario(report: ScenarioReport) -> None:
    SCENARIOS.append(report)
    print(json.dumps(asdict(report), indent=1))  # shown with the test when it fails


def count_case(suite: str, prop: str, status: int) -> None:
    """One case a property test ran, with the status the bridge gave (200 when accepted)."""
    CASES.setdefault((suite, prop), Counter())[status] += 1


def scenario_table() -> list[str]:
    header = (
        f"{'scenario':<50} {'profile':<6} {'callbacks':>9} {'200':>6} {'503':>5} {'conn':>5} "
        f"{'lost':>4} {'dups':>5} {'order':>5} {'recover s':>9} {'outage s':>8}"
    )
    lines = [header]
    for r in SCENARIOS:
        lines.append(
            f"{r.scenario:<50} {r.profile:<6} {r.callbacks:>9} {r.answered_200:>6} "
            f"{r.answered_503:>5} {r.connection_failures:>5} {r.lost:>4} {r.duplicates:>5} "
            f"{r.order_violations:>5} {r.recover_seconds:>9.1f} {r.unavailable_seconds:>8.1f}"
        )
    return lines


def case_table() -> list[str]:
    lines = [f"{'suite':<8} {'property':<36} {'cases':>6}  statuses"]
    for (suite, prop), statuses in sorted(CASES.items()):
        shown = ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()))
        lines.append(f"{suite:<8} {prop:<36} {sum(statuses.values()):>6}  {shown}")
    return lines


def write_results() -> Path | None:
    """Write what was collected to `$RELIABILITY_REPORT_DIR`, when set."""
    where = os.environ.get(REPORT_DIR_VARIABLE)
    if not where or not (SCENARIOS or CASES):
        return None
    directory = Path(where)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "tests.json"
    results = {
        "scenarios": [asdict(report) for report in SCENARIOS],
        "cases": [
            {"suite": suite, "property": prop, "statuses": {str(k): n for k, n in statuses.items()}}
            for (suite, prop), statuses in sorted(CASES.items())
        ],
    }
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path
