"""The load generators, each its own process: wrk (closed loop) and vegeta (fixed rate)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import msgspec

from tests.tool_versions import pinned

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LUA = HERE / "post.lua"
TOOLS_SH = HERE / "tools.sh"
VEGETA = ROOT / ".tools" / "bin" / "vegeta"


VEGETA_VERSION = pinned("VEGETA_VERSION")


class ToolMissing(RuntimeError):
    """A load generator is missing and could not be installed; the message is one line."""


def ensure_tools(*names: str) -> None:
    """Install the named load generators when missing (see tools.sh)."""
    bash = shutil.which("bash") or "bash"
    result = subprocess.run(
        [bash, str(TOOLS_SH), *names], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise ToolMissing(lines[-1] if lines else f"tools.sh failed ({result.returncode})")


@dataclass
class Answers:
    """What a load generator saw in its measured window."""

    seconds: float
    answered: int  # requests that got an HTTP answer
    statuses: dict[str, int]  # answered, by status
    errors: dict[str, int]  # requests without an answer (or timed out), by cause
    latency_ms: dict[str, float]  # p50, p90, p99, max, mean
    outstanding: int = 0  # requests possibly sent and never counted (wrk's open ones at stop)
    every: dict[str, int] = field(default_factory=dict)  # by status, warm-up included
    # vegeta's: the latency of every answer in the window, to pool with other rounds
    latencies_ns: list[int] = field(default_factory=list)

    @property
    def acknowledged(self) -> int:
        return self.statuses.get("200", 0)


def wrk_version() -> str:
    result = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    first = (result.stdout + result.stderr).strip().splitlines()
    return first[0].split(" [")[0] if first else "wrk"


class _WrkLine(msgspec.Struct):
    duration_us: int
    requests: int
    errors: dict[str, int]
    latency_us: dict[str, float]
    statuses: dict[str, int]


def wrk(
    url: str,
    bodies: Sequence[Path],
    seconds: int,
    connections: int,
    threads: int = 1,
    during: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> Answers:
    """Post `bodies` (in turn) to `url` from `connections` connections for `seconds`, as
    fast as answered.

    `during` is called once wrk runs (to measure the server meanwhile).
    """
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(LUA),
        url,
    ]
    with subprocess.Popen(
        command,
        env={**os.environ, "BENCH_BODIES": os.pathsep.join(map(str, bodies))},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    ) as process:
        try:
            if during is not None:
                during(process)
            output = process.communicate(timeout=seconds + 120)[0].decode(errors="replace")
        finally:
            if process.poll() is None:
                process.kill()
    lines = [line for line in output.splitlines() if line.startswith("BENCH_RESULT ")]
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({process.returncode}): {output}")
    parsed = msgspec.json.decode(lines[-1].removeprefix("BENCH_RESULT "), type=_WrkLine)
    errors = {k: v for k, v in parsed.errors.items() if k != "status" and v}
    return Answers(
        seconds=parsed.duration_us / 1e6,
        answered=parsed.requests,
        statuses=dict(sorted(parsed.statuses.items())),
        errors=errors,
        latency_ms={k: round(v / 1000, 3) for k, v in parsed.latency_us.items()},
        outstanding=connections,
    )


class _VegetaResult(msgspec.Struct):
    code: int
    timestamp: datetime
    latency: int  # nanoseconds
    error: str = ""


def percentiles(latencies_ns: list[int]) -> dict[str, float]:
    """Nearest-rank percentiles, in milliseconds."""
    if not latencies_ns:
        return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0, "mean": 0.0}
    ordered = sorted(latencies_ns)

    def rank(p: float) -> float:
        index = max(0, min(len(ordered) - 1, -(-len(ordered) * p // 100) - 1))
        return round(ordered[int(index)] / 1e6, 3)

    return {
        "p50": rank(50),
        "p90": rank(90),
        "p99": rank(99),
        "max": round(ordered[-1] / 1e6, 3),
        "mean": round(sum(ordered) / len(ordered) / 1e6, 3),
    }


def vegeta(
    url: str,
    bodies: Sequence[Path],
    rate: int,
    seconds: float,
    warmup: float,
    workdir: Path,
    during: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> Answers:
    """Post `bodies` (in turn) to `url` at `rate` per second for `warmup` + `seconds`,
    whatever the answers.

    Open loop: requests leave on schedule whether or not earlier ones were answered
    (vegeta adds workers as needed), so slow answers cannot hide queueing. vegeta
    waits for every request it sent, so the counts are exact. Figures cover the
    `seconds` after the warm-up; `every` counts all answers, warm-up included.
    `during` is called with the running attack (to sample the server meanwhile).
    """
    targets = workdir / "targets.http"
    targets.write_text(
        "\n".join(f"POST {url}\nContent-Type: application/json\n@{body}\n" for body in bodies)
    )
    results = workdir / "results.bin"
    command = [
        str(VEGETA),
        "attack",
        "-targets",
        str(targets),
        "-rate",
        f"{max(1, rate)}/1s",
        "-duration",
        f"{int((warmup + seconds) * 1000)}ms",
        "-timeout",
        "30s",
        "-max-body",
        "0",
        "-output",
        str(results),
    ]
    log = workdir / "vegeta.log"
    # One core and a lazier collector: on a small machine the load generator competes
    # with the server it measures, so it should take as little as it can.
    env = {**os.environ, "GOMAXPROCS": "1", "GOGC": "400"}
    with log.open("wb") as stderr, subprocess.Popen(command, stderr=stderr, env=env) as attack:
        try:
            if during is not None:
                during(attack)
            attack.wait(timeout=warmup + seconds + 120)
        finally:
            if attack.poll() is None:
                attack.kill()
    if attack.returncode != 0:
        raise RuntimeError(f"vegeta attack failed ({attack.returncode}): {log.read_text()}")
    return _tally(results, seconds, warmup)


def _tally(results: Path, seconds: float, warmup: float) -> Answers:
    decoder = msgspec.json.Decoder(_VegetaResult)
    encode = [str(VEGETA), "encode", "-to", "json", str(results)]
    measured: list[_VegetaResult] = []
    every: dict[str, int] = {}
    pending: list[_VegetaResult] = []
    with subprocess.Popen(encode, stdout=subprocess.PIPE) as encoder:
        assert encoder.stdout is not None
        for line in encoder.stdout:
            pending.append(decoder.decode(line))
    if encoder.returncode != 0:
        raise RuntimeError(f"vegeta encode failed ({encoder.returncode})")
    first = min((r.timestamp.timestamp() for r in pending), default=0.0)
    start = first + warmup
    for result in pending:
        key = str(result.code)
        every[key] = every.get(key, 0) + 1
        if result.timestamp.timestamp() >= start:
            measured.append(result)
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    for result in measured:
        if result.code == 0:
            cause = result.error.rsplit(": ", 1)[-1] or "no answer"
            errors[cause] = errors.get(cause, 0) + 1
        else:
            statuses[str(result.code)] = statuses.get(str(result.code), 0) + 1
    latencies = [r.latency for r in measured if r.code != 0]
    return Answers(
        seconds=seconds,
        answered=sum(statuses.values()),
        statuses=dict(sorted(statuses.items())),
        errors=errors,
        latency_ms=percentiles(latencies),
        every=dict(sorted(every.items())),
        latencies_ns=latencies,
    )
