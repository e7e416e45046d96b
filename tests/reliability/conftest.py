"""A broker on quiet ports, and the report of what the reliability tests measured."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broker import LocalBroker
from tests.ports import free_port
from tests.reliability.report import CASES, SCENARIOS, case_table, scenario_table, write_results


@pytest.fixture
def quiet_broker(tmp_path: Path) -> Iterator[LocalBroker]:
    """A broker for this test alone, which it may kill or freeze, on ports no one else takes."""
    broker = LocalBroker(tmp_path / "kafka", port=free_port(), controller_port=free_port())
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SCENARIOS:
        terminalreporter.section("reliability: fault scenarios")
        for line in scenario_table():
            terminalreporter.write_line(line)
    if CASES:
        terminalreporter.section("reliability: property-test cases")
        for line in case_table():
            terminalreporter.write_line(line)
    written = write_results()
    if written is not None:
        terminalreporter.write_line(f"reliability results written to {written}")
