"""A tiny run of `python -m benchmarks.broker_cost` on the suite's broker: both clients
produce and its table is well formed. No speed is asserted: the script measures."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.servers import REPO

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(300)]

READING = r"\| [1-9]\d* \| \d+\.\d \| \d+ \| -?\d+ \|"


def broker_cost(*arguments: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "benchmarks.broker_cost", *arguments]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=240, check=False, cwd=REPO
    )


def test_the_broker_cost_prints_each_clients_reading(kafka_bootstrap: str) -> None:
    done = broker_cost(
        "--bootstrap", kafka_bootstrap, "--rate", "200", "--seconds", "1", "--warmup", "0",
        "--rounds", "1",
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert rows[0] == (
        "| client | round | produce requests/s | records/request | broker µs/callback "
        "| broker µs/request above idle |"
    )
    assert re.fullmatch(r"\| \(idle\) \| 1 \| \| \| \d+ \| \|", rows[1]), rows[1]
    assert re.fullmatch(r"\| bridge \| 1 " + READING, rows[2]), rows[2]
    assert re.fullmatch(r"\| java \| 1 " + READING, rows[3]), rows[3]
    assert re.fullmatch(r"\| bridge, median \| all " + READING, rows[4]), rows[4]
    assert re.fullmatch(r"\| java, median \| all " + READING, rows[5]), rows[5]
    assert len(rows) == 6


def test_a_window_shorter_than_the_java_clients_reports_is_refused() -> None:
    done = broker_cost("--seconds", "0.5")

    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        "python -m benchmarks.broker_cost: error: --seconds must be at least 1: "
        "the Java client's reports"
    )


def test_a_broker_not_on_this_machine_is_refused() -> None:
    done = broker_cost("--bootstrap", "127.0.0.1:1")

    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        "python -m benchmarks.broker_cost: error: no process of this machine listens on 127.0.0.1:1"
    )


def test_a_bootstrap_without_a_port_is_refused() -> None:
    done = broker_cost("--bootstrap", "localhost")

    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        "python -m benchmarks.broker_cost: error: --bootstrap must be HOST:PORT, got 'localhost'"
    )
