"""What a run of the benchmark is asked to do: its options, from the command line and the
`BENCH_*` environment variables."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from benchmarks.loadgen import ROOT

RESULTS = ROOT / "bench-results"
# What `make bench` runs, in this order; --only and --skip choose among them.
PARTS = (
    "kafka-ceiling",
    "bare-ceiling",
    "http-ceiling",
    "bridge",
    "librdkafka",
    "fixed-rates",
    "rates",
    "naive",
    "sizes",
    "scaling",
    "profile",
)
# The partitions of every topic a run writes to.
PARTITIONS = 6
# Under this 1-minute load average the machine counts as quiet.
QUIET_LOAD = 0.5


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of whole numbers: {text}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"not a list of positive numbers: {text}")
    return values


# Each round of a full run adds about 13 minutes.
MAX_ROUNDS = 10


@dataclass
class Options:
    seconds: int = 15
    warmup: int = 3
    broker_warmup: int = 10  # seconds of producing into a broker the harness started
    connections: int = 64
    # wrk's connections at saturation for the ceilings and the bridge; the first is
    # `connections`, the connections of every other closed-loop run.
    more_connections: tuple[int, ...] = (256,)
    fixed_rates: tuple[int, ...] = (1000, 3000)
    rounds: int = 3  # of the saturated and fixed-rate runs, in turn, pooled (benchmarks/pooling.py)
    workers: int = 1
    scale_workers: int = 2
    parts: tuple[str, ...] = PARTS
    soak: int | None = None
    soak_rate: int | None = None
    wait_quiet: int = 0
    retries: int = 2
    bootstrap: str | None = None
    broker_data: Path | None = None  # the given broker's log.dirs, to read its batches
    # A checkout of another version of the bridge, run next to it under the same loads.
    reference: Path | None = None
    out: Path = RESULTS


def _parts(text: str) -> tuple[str, ...]:
    parts = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [part for part in parts if part not in PARTS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown part {unknown[0]}; parts are {', '.join(PARTS)}")
    return parts


def parse(argv: list[str] | None, description: str | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=description)
    parser.add_argument(
        "--seconds",
        type=int,
        default=_env_int("BENCH_SECONDS", 15),
        help="measured seconds per run (BENCH_SECONDS, default 15)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=_env_int("BENCH_WARMUP", 3),
        help="warm-up seconds before each, excluded from the figures (BENCH_WARMUP, default 3)",
    )
    parser.add_argument(
        "--broker-warmup",
        type=int,
        default=_env_int("BENCH_BROKER_WARMUP", 10),
        metavar="SECONDS",
        help="seconds of producing flat out into the broker the harness starts, and as many "
        "of the bridge at the lowest fixed rate, before the runs, so that its JVM has "
        "compiled the produce path (BENCH_BROKER_WARMUP, default 10)",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=_env_int("BENCH_CONNECTIONS", 64),
        help="wrk's connections at saturation (BENCH_CONNECTIONS, default 64)",
    )
    parser.add_argument(
        "--more-connections",
        type=_ints,
        default=_ints(os.environ.get("BENCH_MORE_CONNECTIONS") or "256"),
        metavar="N,...",
        help="wrk's connections of the further saturating runs of the ceilings and the bridge "
        "(BENCH_MORE_CONNECTIONS, default 256)",
    )
    parser.add_argument(
        "--fixed-rates",
        type=_ints,
        default=_ints(os.environ.get("BENCH_FIXED_RATES") or "1000,3000"),
        metavar="RATE,...",
        help="callbacks/s of the fixed-rate runs (BENCH_FIXED_RATES, default 1000,3000)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=_env_int("BENCH_ROUNDS", 3),
        metavar="N",
        help="rounds of the saturated and the fixed-rate runs, the servers taken in turn in "
        "each, every server's rounds under a load pooled (BENCH_ROUNDS, default 3)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=_env_int("BENCH_WORKERS", 1),
        help="bridge workers of the main runs (BENCH_WORKERS, default 1)",
    )
    parser.add_argument("--scale-workers", type=int, default=2, help="workers of the scaling runs")
    parser.add_argument(
        "--only",
        type=_parts,
        default=PARTS,
        metavar="PART,...",
        help=f"run only these parts, of: {', '.join(PARTS)}",
    )
    parser.add_argument(
        "--skip", type=_parts, default=(), metavar="PART,...", help="run all parts but these"
    )
    parser.add_argument(
        "--soak",
        type=int,
        metavar="SECONDS",
        help="instead: the bridge at 50%% of its maximum for SECONDS, sampling its memory",
    )
    parser.add_argument("--soak-rate", type=int, help="the soak's rate (default: measure first)")
    parser.add_argument(
        "--wait-quiet",
        type=int,
        default=_env_int("BENCH_WAIT_QUIET", 0),
        metavar="SECONDS",
        help=f"wait up to SECONDS for the load average to drop below {QUIET_LOAD}",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=_env_int("BENCH_RETRIES", 2),
        help="run a part again, up to this many times, while other work disturbs it "
        "(BENCH_RETRIES, default 2)",
    )
    parser.add_argument("--bootstrap", help="use this broker instead of starting one")
    parser.add_argument(
        "--broker-data",
        type=Path,
        metavar="DIR",
        help="the --bootstrap broker's log.dirs, to read the batches it stored",
    )
    parser.add_argument(
        "--reference",
        type=Path,
        metavar="DIR",
        help="a checkout of another version of the bridge (e.g. `git worktree add DIR main`), "
        "run as `reference` right after the bridge under each load of the bridge and "
        "fixed-rates parts: before and after, in one run",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="default: bench-results/")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= MAX_ROUNDS:  # a default from the environment is not checked
        parser.error(f"--rounds (BENCH_ROUNDS) must be 1 to {MAX_ROUNDS}, not {args.rounds}")
    return Options(
        seconds=args.seconds,
        warmup=args.warmup,
        broker_warmup=args.broker_warmup,
        connections=args.connections,
        more_connections=args.more_connections,
        fixed_rates=args.fixed_rates,
        rounds=args.rounds,
        workers=args.workers,
        scale_workers=args.scale_workers,
        parts=tuple(part for part in args.only if part not in args.skip),
        soak=args.soak,
        soak_rate=args.soak_rate,
        wait_quiet=args.wait_quiet,
        retries=args.retries,
        bootstrap=args.bootstrap,
        broker_data=args.broker_data,
        reference=None if args.reference is None else args.reference.resolve(),
        out=args.out,
    )
