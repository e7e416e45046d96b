"""A tiny run of `python -m benchmarks.kafka_side` on the suite's broker: its table is
well formed. No speed is asserted: `make bench` and the script itself measure."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.servers import REPO

pytestmark = pytest.mark.kafka


def test_the_kafka_side_prints_a_row_per_linger(kafka_bootstrap: str) -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "benchmarks.kafka_side", "--bootstrap", kafka_bootstrap,
            "--rate", "200", "--seconds", "1", "--warmup", "0.2", "--lingers", "0,5",
        ],
        capture_output=True, text=True, timeout=120, check=False, cwd=REPO,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert rows[0] == (
        "| linger ms | CPU µs/callback | produce requests/s | CPU µs/request | broker µs/callback |"
    )
    assert re.fullmatch(
        r"\| \(no Kafka: the pacing alone\) \| \d+ \| \| \| n/a \(idle\) \|", rows[1]
    )
    for linger, row in zip(("0", "5"), rows[2:], strict=True):
        assert re.fullmatch(rf"\| {linger} \| \d+ \| [1-9]\d* \| -?\d+ \| n/a \|", row), row
