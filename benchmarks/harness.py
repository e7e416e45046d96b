"""The benchmark: a real broker, the bridge as it runs in production, load from outside.

`make bench` runs, against one local broker: the Kafka ceiling, the bare and the HTTP
ceilings and the bridge at saturation (64 and 256 connections) and at fixed rates (1,000
and 3,000 callbacks/s), with the vendor's sample and with bodies whose videoIds spread
over every partition; the bridge at 25/50/75 % of its maximum, the naive bridge, the
bridge with 1, 2, 10 and 100 videos per callback, some of it again at 2 workers, and a
profile. `make bench-soak` runs the bridge at half its maximum for five minutes and
reports how its memory moves.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import FrameType
from typing import NamedTuple

import msgspec

from benchmarks import checks, loadgen, pooling, procs, profile, results, segments, targets
from benchmarks.bodies import VENDOR_SAMPLE_VIDEOS, spread_samples, vendor_sample, videos_body
from benchmarks.kafka_ceiling import Outcome
from benchmarks.loadgen import Answers
from benchmarks.options import PARTITIONS, QUIET_LOAD, Options, parse
from benchmarks.results import CEILINGS, Comparison, Run
from benchmarks.services import (
    Service,
    bare_command,
    bridge_command,
    ceiling_command,
    count_records,
    librdkafka_command,
    naive_command,
    settled_count,
)
from benchmarks.usage import Usage, Window, load_average, watching
from tests.broker import LocalBroker
from tests.kafka_tools import create_topics
from tests.servers import bridge_env

# A run during which other work took more than this share of one core is run again.
DISTURBED = 0.25


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


class Body(NamedTuple):
    paths: tuple[Path, ...]  # posted in turn
    videos: int  # per callback
    size: int  # bytes of each
    label: str  # sample | spread | N videos


class Bench:
    def __init__(
        self,
        options: Options,
        bootstrap: str,
        broker_pid: int | None,
        work: Path,
        broker_data: Path | None = None,
    ) -> None:
        self.options = options
        self.bootstrap = bootstrap
        self.broker_pid = broker_pid
        self.broker_data = broker_data
        self.work = work
        self.stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        self.out = options.out / self.stamp
        self.token = secrets.token_urlsafe(18)  # 24 characters
        self.runs: list[Run] = []
        self.round_runs: list[Run] = []  # pooled into runs (`interleaved`)
        self.latencies: dict[tuple[str, str], list[int]] = {}  # by run name and start
        self.recorded = 0  # runs and rounds written, which numbers their files
        self.failed: list[str] = []
        self.profiles: dict[str, list[str]] = {}  # by load: the profile's text
        self.load_before = load_average()
        self.topics = 0

    # -- the parts ----------------------------------------------------------

    def topic(self, name: str) -> str:
        """A fresh topic for each run, and for each attempt at it."""
        self.topics += 1
        return f"bench.{self.stamp}.{self.topics:02d}.{_slug(name)}"

    def body(self, kind: str | int) -> Body:
        """The body files of `kind`: `sample` (the vendor's), `spread` (the sample with
        videoIds that visit every partition in turn), or a number of videos."""
        if kind == "sample":
            datas, videos, label = [vendor_sample()], VENDOR_SAMPLE_VIDEOS, "sample"
        elif kind == "spread":
            datas, videos, label = spread_samples(PARTITIONS), VENDOR_SAMPLE_VIDEOS, "spread"
        elif isinstance(kind, int):
            datas, videos, label = [videos_body(kind)], kind, f"{kind} videos"
        else:
            raise ValueError(kind)
        paths = []
        for n, data in enumerate(datas):
            path = self.work / f"body-{_slug(label)}-{n:03d}.json"
            path.write_bytes(data)
            paths.append(path)
        return Body(tuple(paths), videos, len(datas[0]), label)

    def settings(self, topic: str, workers: int) -> dict[str, str]:
        return {
            "kafka_bootstrap_servers": self.bootstrap,
            "auth_tokens": self.token,
            "workers": str(workers),
            "topic_video_upload": topic,
            "topic_material_upload": f"bench.{self.stamp}.material",
            "topic_dlq": f"bench.{self.stamp}.dlq",
            "create_topics": "true",
            "topic_partitions": str(PARTITIONS),
        }

    def service(self, name: str, server: str, workers: int, topic: str) -> Service:
        log = self.work / f"{_slug(name)}.log"
        settings = self.settings(topic, workers)
        if server == "bridge":
            return Service(name, bridge_command(), log, settings=settings)
        if server == "reference":
            assert self.options.reference is not None
            reference = self.options.reference
            return Service(name, bridge_command(), log, settings=settings, cwd=reference)
        if server == "http-ceiling":
            return Service(name, ceiling_command(), log, settings=settings)
        if server == "bare-ceiling":
            return Service(name, bare_command(), log, settings=settings, has_metrics=False)
        if server == "librdkafka":
            asyncio.run(create_topics(self.bootstrap, topic, partitions=PARTITIONS))
            return Service(name, librdkafka_command(), log, settings=settings)
        if server == "naive":
            asyncio.run(create_topics(self.bootstrap, topic, partitions=PARTITIONS))
            return Service(
                name, naive_command(), log, settings=settings, ready_path="/docs", has_metrics=False
            )
        raise ValueError(server)

    def url(self, service: Service, server: str) -> str:
        # The bridges and the HTTP ceiling authenticate as in production (the token in
        # the path, as the platform is configured); the naive bridge has no auth, and
        # the bare ceiling ignores the token.
        route = "/callbacks/video-upload"
        return service.url + route + ("" if server == "naive" else f"/{self.token}")

    def count(self, service: Service, topic: str) -> int:
        """The topic's records once the server has nothing in flight."""
        if service.wait_idle():
            return count_records(self.bootstrap, topic)
        return settled_count(self.bootstrap, topic)

    def batches(self, topic: str, window: Window) -> segments.Batches | None:
        """The batches the broker stored for `topic` within the measured window, when its
        log segments can be read here."""
        if self.broker_data is None:
            return None
        found = segments.read(self.broker_data, topic)
        return segments.summarise(found, window.started_ms, window.stopped_ms)

    def record(self, run: Run, kept: list[Run] | None = None) -> Run:
        """Keeps `run` with the runs (or in `kept`), writes it and prints it."""
        (self.runs if kept is None else kept).append(run)
        if kept is None:  # its answers' latencies are kept only for pooling
            self._latencies(run)
        self.recorded += 1
        results.write(self.out / f"{self.recorded:03d}-{_slug(run.name)}.json", run)
        print(results.line(run), flush=True)
        return run

    # -- the runs -----------------------------------------------------------

    def saturate(
        self,
        name: str,
        server: str,
        workers: int = 1,
        body: str | int = "sample",
        connections: int | None = None,
    ) -> Run:
        """Closed loop with wrk: as many callbacks as the server answers."""
        connections = connections or self.options.connections
        return self.quietest(lambda: self._saturate(name, server, workers, body, connections))

    def fixed_rate(
        self, name: str, rate: int, server: str = "bridge", body: str = "sample", workers: int = 1
    ) -> Run:
        """Open loop with vegeta: `rate` callbacks a second, whatever the answers."""
        return self.quietest(lambda: self._fixed_rate(name, rate, server, body, workers))

    def at_rate(
        self, name: str, rate: int, server: str, body: str = "sample", workers: int = 1
    ) -> Planned:
        """The fixed-rate run `name`, to take in rounds (`interleaved`)."""
        return Planned(name, lambda label: self._fixed_rate(label, rate, server, body, workers))

    def saturating(self, bridges: list[str], peers: list[str]) -> list[Planned]:
        """The closed-loop runs of the parts chosen: ceilings, bridges and peers."""
        opts, parts = self.options, self.options.parts
        plan: list[Planned] = []

        def at(name: str, server: str, workers: int, body: str = "sample", more: int = 0) -> None:
            connections = more or opts.connections
            plan.append(
                Planned(
                    name, lambda label: self._saturate(label, server, workers, body, connections)
                )
            )

        if "bare-ceiling" in parts:
            at("bare-ceiling", "bare-ceiling", opts.workers)
        if "http-ceiling" in parts:
            at("http-ceiling", "http-ceiling", opts.workers)
        if "bridge" in parts or "rates" in parts:
            at("bridge", "bridge", opts.workers)
        if "bridge" in parts:
            if opts.reference is not None:
                at("reference", "reference", opts.workers)
            for server in bridges:
                at(f"{server} spread", server, opts.workers, "spread")
        for body in ("sample", "spread"):
            for server in peers:
                at(server if body == "sample" else f"{server} {body}", server, 1, body)
        for more in opts.more_connections:
            if "bare-ceiling" in parts:
                at(f"bare-ceiling c{more}", "bare-ceiling", opts.workers, more=more)
            if "bridge" in parts:
                for server in bridges:
                    at(f"{server} c{more}", server, opts.workers, more=more)
        return plan

    def interleaved(self, plan: list[Planned]) -> list[Run]:
        """The runs of `plan`, taken in turn for `rounds` rounds, then each one's rounds
        pooled (`benchmarks.pooling`); with one round, each run as it is."""
        count = self.options.rounds
        if count == 1:
            return [self.quietest(partial(planned.attempt, planned.name)) for planned in plan]
        taken: dict[str, list[Run]] = {planned.name: [] for planned in plan}
        for number in range(1, count + 1):
            for planned in plan:
                label = pooling.round_name(planned.name, number)
                taken[planned.name].append(
                    self.quietest(partial(planned.attempt, label), self.round_runs)
                )
        return [
            self.record(pooling.pooled(name, runs, [self._latencies(run) for run in runs]))
            for name, runs in taken.items()
        ]

    def _latencies(self, run: Run) -> list[int] | None:
        """Every answer's latency, which vegeta gives and wrk does not."""
        return self.latencies.pop((run.name, run.started_at), None)

    def kafka_ceiling(self) -> Run:
        """The same records, produced flat out by aiokafka in a process of its own."""
        return self.quietest(self._kafka_ceiling)

    def quietest(self, attempt: Callable[[], Run], kept: list[Run] | None = None) -> Run:
        """The run, again while other work on the machine disturbed it, up to `retries` times;
        recorded with the runs, or in `kept`."""
        best = self.checked(attempt())
        tries = 1
        while _disturbed(best) and tries <= self.options.retries:
            print(
                f"  {best.name}: other work took {best.other_cpu_seconds:.1f} CPU s of the "
                f"{best.seconds:.0f} s measured; once more",
                flush=True,
            )
            again = self.checked(attempt())
            tries += 1
            if _disturbance(again) < _disturbance(best):
                best, again = again, best
            self._latencies(again)  # the attempt not kept
        best.attempts = tries
        return self.record(best, kept)

    def checked(self, run: Run) -> Run:
        """Notes a failed topic check, whichever attempt is kept: a loss is never retried away."""
        if run.topic_check is not None and not run.topic_check.ok:
            self.failed.append(f"{run.name}: {run.topic_check.note}")
            print(f"  {run.name}: TOPIC CHECK FAILED: {run.topic_check.note}", flush=True)
        return run

    def _saturate(
        self, name: str, server: str, workers: int, kind: str | int, connections: int
    ) -> Run:
        opts = self.options
        body = self.body(kind)
        topic = self.topic(name)
        service = self.service(name, server, workers, topic)
        url = self.url(service, server)
        kafka = server not in CEILINGS
        started = _now()
        with service, watching(service.pid, self.broker_pid) as usage:
            loadgen.wrk(url, body.paths, opts.warmup, connections)
            before = self.count(service, topic) if kafka else 0
            answers = loadgen.wrk(
                url, body.paths, opts.seconds, connections, during=usage.window.measure
            )
            after = self.count(service, topic) if kafka else 0
        check = checks.closed_loop(topic, after - before, answers, body.videos) if kafka else None
        run = _run(
            Run(
                name=name,
                server=server,
                mode="saturation",
                workers=workers,
                body=body.label,
                videos_per_callback=body.videos,
                body_bytes=body.size,
                load_generator=f"{loadgen.wrk_version()}, 1 thread",
                connections=connections,
                warmup_seconds=opts.warmup,
                topic_check=check,
                started_at=started,
            ),
            answers,
            usage,
        )
        run.kafka_batches = self.batches(topic, usage.window) if kafka else None
        return run

    def _fixed_rate(
        self,
        name: str,
        rate: int,
        server: str = "bridge",
        kind: str = "sample",
        workers: int = 1,
        seconds: int | None = None,
        warmup: int | None = None,
        mode: str = "fixed-rate",
    ) -> Run:
        seconds = self.options.seconds if seconds is None else seconds
        warmup = self.options.warmup if warmup is None else warmup
        body = self.body(kind)
        topic = self.topic(name)
        service = self.service(name, server, workers, topic)
        url = self.url(service, server)
        kafka = server not in CEILINGS
        workdir = self.work / _slug(name)
        workdir.mkdir(exist_ok=True)
        started = _now()
        every = 2.0 if mode == "soak" else 0.25
        with service, watching(service.pid, self.broker_pid, every) as usage:

            def measure(attack: subprocess.Popen[bytes]) -> None:
                time.sleep(warmup)
                usage.window.measure(attack)

            answers = loadgen.vegeta(url, body.paths, rate, seconds, warmup, workdir, measure)
            records = self.count(service, topic) if kafka else 0
        check = checks.open_loop(topic, records, answers, body.videos) if kafka else None
        run = _run(
            Run(
                name=name,
                server=server,
                mode=mode,
                workers=workers,
                body=body.label,
                videos_per_callback=body.videos,
                body_bytes=body.size,
                load_generator=f"vegeta {loadgen.VEGETA_VERSION}",
                rate_offered=float(rate),
                warmup_seconds=warmup,
                topic_check=check,
                started_at=started,
            ),
            answers,
            usage,
        )
        run.kafka_batches = self.batches(topic, usage.window) if kafka else None
        if mode != "soak":
            self.latencies[run.name, run.started_at] = answers.latencies_ns
        if mode == "soak":
            samples = usage.sampler.samples
            settle = max(warmup, seconds / 10)
            run.rss_slope_mb_per_min = round(usage.sampler.slope_mb_per_min(after=settle), 3)
            run.rss_series_mb = [
                (round(t - samples[0][0], 1), round(rss / procs.MB, 2)) for t, rss in samples
            ]
        return run

    def warm_broker(self, seconds: int) -> None:
        """A fresh broker's JVM compiles its produce path while it serves the first runs,
        which would pay for it (several times the broker CPU per callback of later runs):
        first, unmeasured, produce flat out (large batches), then run the bridge at the
        lowest fixed rate with the spread bodies (small ones), `seconds` each."""
        if seconds <= 0:
            return
        print(f"warming the broker up for {2 * seconds} s", flush=True)
        topic = self.topic("broker warm-up")
        asyncio.run(create_topics(self.bootstrap, topic, partitions=PARTITIONS))
        env = bridge_env(self.settings(topic, 1))
        command = [sys.executable, "-m", "benchmarks.kafka_ceiling"]
        command += [f"--seconds={seconds}", "--warmup=0"]
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=True)
        name = "broker warm-up, bridge"
        body = self.body("spread")
        service = self.service(name, "bridge", 1, self.topic(name))
        workdir = self.work / _slug(name)
        workdir.mkdir(exist_ok=True)
        rate = min(self.options.fixed_rates)
        with service:
            loadgen.vegeta(self.url(service, "bridge"), body.paths, rate, seconds, 0, workdir)

    def _kafka_ceiling(self) -> Run:
        opts = self.options
        name = "kafka-ceiling"
        topic = self.topic(name)
        asyncio.run(create_topics(self.bootstrap, topic, partitions=6))
        env = bridge_env(self.settings(topic, 1))
        command = [sys.executable, "-m", "benchmarks.kafka_ceiling"]
        command += [f"--seconds={opts.seconds}", f"--warmup={opts.warmup}"]
        started = _now()
        lines = []
        with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as producer:
            assert producer.stdout is not None
            with watching(producer.pid, self.broker_pid) as usage:
                for line in producer.stdout:
                    if line.strip() == "measuring":
                        usage.window.start()
                    elif line.strip() == "measured":
                        usage.window.stop()
                        usage.hwm = procs.hwm_bytes([producer.pid])
                    else:
                        lines.append(line)
        if producer.returncode != 0 or not lines:
            raise RuntimeError(f"the Kafka ceiling failed ({producer.returncode}): {lines}")
        outcome = msgspec.json.decode(lines[-1], type=Outcome)
        records = count_records(self.bootstrap, topic)
        per_callback = outcome.records_per_callback
        callbacks = outcome.measured // per_callback
        run = Run(
            name=name,
            server="kafka-ceiling",
            mode="produce",
            workers=1,
            videos_per_callback=per_callback,
            body_bytes=len(vendor_sample()),
            load_generator="aiokafka producer, no HTTP",
            warmup_seconds=opts.warmup,
            topic_check=checks.produced(topic, records, outcome.acknowledged, outcome.failed),
            started_at=started,
        )
        answers = Answers(
            seconds=outcome.seconds,
            answered=callbacks,
            statuses={"200": callbacks},
            errors={},
            latency_ms={},
        )
        run = _run(run, answers, usage)
        run.kafka_batches = self.batches(topic, usage.window)
        # Exactly the records acknowledged in the window, not whole callbacks.
        run.records_per_s = round(outcome.records_per_s, 1)
        run.videos_per_s = run.records_per_s
        run.callbacks_per_s = round(outcome.records_per_s / per_callback, 1)
        run.latency_ms = None
        return run

    def profile(self) -> None:
        """The bridge under py-spy, saturated and at the highest fixed rate: a flame graph
        and a text profile of each."""
        opts = self.options
        body = self.body("sample")
        span = max(2, min(opts.seconds, 10))
        name = "bridge under py-spy"
        service = self.service(name, "bridge", 1, self.topic(name))
        url = self.url(service, "bridge")
        with service:
            loadgen.wrk(url, body.paths, opts.warmup, opts.connections)

            def saturated(_: subprocess.Popen[bytes]) -> None:
                self.profiles["saturated"] = profile.record(service.pid, span, self.out)

            loadgen.wrk(url, body.paths, 2 * span + 2, opts.connections, during=saturated)
        print(f"profile: {self.out / 'profile.svg'} and {self.out / 'profile-top.txt'}")
        rate = max(opts.fixed_rates)
        stem = f"profile-at-{rate}"
        name = f"bridge under py-spy @{rate}/s"
        service = self.service(name, "bridge", 1, self.topic(name))
        url = self.url(service, "bridge")
        workdir = self.work / _slug(name)
        workdir.mkdir(exist_ok=True)
        with service:

            def steady(_: subprocess.Popen[bytes]) -> None:
                time.sleep(opts.warmup)  # the warm-up: not profiled
                self.profiles[f"at {rate}/s"] = profile.record(service.pid, span, self.out, stem)

            loadgen.vegeta(url, body.paths, rate, 2 * span + 2, opts.warmup, workdir, steady)
        print(f"profile: {self.out / f'{stem}.svg'} and {self.out / f'{stem}-top.txt'}")

    # -- the whole ----------------------------------------------------------

    def bench(self) -> None:
        opts = self.options
        parts = opts.parts
        self.warm_broker(opts.broker_warmup)
        if "kafka-ceiling" in parts:
            self.kafka_ceiling()
        # The bridge, and the reference bridge under each of the same loads right after it
        # (`saturating`, and the fixed-rate plan below).
        bridges = ["bridge"] + (["reference"] if opts.reference is not None else [])
        # The peer on librdkafka, under the bridge's loads (one worker: it has no more).
        peers = ["librdkafka"] if "librdkafka" in parts else []
        saturated = self.interleaved(self.saturating(bridges, peers))
        if "rates" in parts:
            self.rates(
                "bridge", next(run for run in saturated if run.name == "bridge"), opts.workers
            )
        if "fixed-rates" in parts:
            for rate in opts.fixed_rates:
                plan = [
                    self.at_rate(f"bare-ceiling @{rate}/s", rate, "bare-ceiling"),
                    self.at_rate(f"http-ceiling @{rate}/s", rate, "http-ceiling"),
                ]
                for body in ("sample", "spread"):
                    for server in bridges + peers:
                        label = server if body == "sample" else f"{server} {body}"
                        workers = 1 if server in peers else opts.workers
                        plan.append(self.at_rate(f"{label} @{rate}/s", rate, server, body, workers))
                self.interleaved(plan)
        if "naive" in parts:
            self.saturate("naive", "naive")
        if "sizes" in parts:
            for videos in (1, 2, 10, 100):
                label = "video" if videos == 1 else "videos"
                self.saturate(f"bridge {videos} {label}", "bridge", opts.workers, videos)
        if "scaling" in parts:
            n = opts.scale_workers
            self.saturate(f"http-ceiling {n}w", "http-ceiling", n)
            self.rates(f"bridge {n}w", self.saturate(f"bridge {n}w", "bridge", n), n)
        if "profile" in parts:
            self.profile()
        self.summarise(targets.comparisons(self.runs, opts.scale_workers))

    def rates(self, name: str, top: Run, workers: int) -> None:
        """Fixed rates at 25, 50 and 75 % of the maximum measured at saturation."""
        for share in (25, 50, 75):
            rate = round(top.callbacks_per_s * share / 100)
            self.fixed_rate(f"{name} @{share}%", rate, "bridge", "sample", workers)

    def soak(self) -> None:
        """The bridge at half its maximum for a long while: does its memory stay flat?"""
        opts = self.options
        rate = opts.soak_rate
        if rate is None:
            rate = round(self.saturate("bridge", "bridge", opts.workers).callbacks_per_s / 2)
        seconds = opts.soak or 300
        run = self._fixed_rate(
            "bridge soak @50%", rate, workers=opts.workers, seconds=seconds, warmup=10, mode="soak"
        )
        self.record(self.checked(run))
        series = run.rss_series_mb or []
        step = max(1, len(series) // 10)
        print("RSS (s: MB): " + ", ".join(f"{t:.0f}: {mb:.1f}" for t, mb in series[::step]))
        self.summarise(targets.soak(run))

    def summarise(self, comparisons: list[Comparison]) -> None:
        summary = results.Summary(
            started_at=self.stamp,
            command=shlex.join(["python", "-m", "benchmarks", *sys.argv[1:]]),
            machine=results.machine(),
            options={
                "seconds": self.options.seconds,
                "warmup": self.options.warmup,
                "connections": self.options.connections,
                "workers": self.options.workers,
                "rounds": self.options.rounds,
                "reference": ""
                if self.options.reference is None
                else f"{self.options.reference} at {results.commit(self.options.reference)}",
            },
            load_before=self.load_before,
            quietness=_quietness(self.runs, self.load_before),
            runs=self.runs,
            comparisons=comparisons,
            rounds=self.round_runs,
            profiles=self.profiles,
        )
        results.write(self.out / "summary.json", summary)
        text = "\n\n".join(
            [
                results.table(self.runs),
                results.costs_table(self.runs),
                results.comparisons_table(comparisons),
            ]
        )
        (self.out / "table.md").write_text(text + "\n")
        latest = self.options.out / "latest"
        latest.unlink(missing_ok=True)
        latest.symlink_to(self.stamp)
        machine = summary.machine
        print(
            f"\nMachine: {machine['nproc']} cores ({machine['cpu']}), {machine['memory']}; the "
            "broker, the server under test and the load generator share them."
        )
        print(f"{_quietness(self.runs, self.load_before)}\n")
        print(text)
        for load, lines in self.profiles.items():
            print(f"\nTop functions by own time (py-spy), {load}:")
            print("\n".join(lines[:18]))
        print(f"\nResults: {self.out}/")
        for failure in self.failed:
            print(f"TOPIC CHECK FAILED: {failure}")


def _disturbance(run: Run) -> float:
    """The share of one core that other work on the machine took during the run."""
    return run.other_cpu_seconds / max(run.seconds, 1.0)


def _disturbed(run: Run) -> bool:
    return _disturbance(run) > DISTURBED


def _quietness(runs: list[Run], load_before: float) -> str:
    """How much other work ran on the machine meanwhile."""
    others = sum(run.other_cpu_seconds for run in runs)
    measured = sum(run.seconds for run in runs) or 1.0
    return (
        f"Load average (1 min) before the runs: {load_before:.2f}; other work on the machine "
        f"took {others:.1f} CPU s in the {measured:.0f} s measured "
        f"({100 * others / measured:.0f}% of one core)."
    )


def _run(run: Run, answers: Answers, usage: Usage) -> Run:
    """`run` with the figures of `answers` and `usage`."""
    acked = answers.acknowledged
    per_s = acked / answers.seconds if answers.seconds else 0.0
    cpu = usage.window.server.seconds
    run.seconds = round(answers.seconds, 3)
    run.callbacks_answered = answers.answered
    run.callbacks_acknowledged = acked
    run.callbacks_per_s = round(per_s, 1)
    run.videos_per_s = round(per_s * run.videos_per_callback, 1)
    run.latency_ms = answers.latency_ms
    run.statuses = answers.statuses
    run.errors = answers.errors
    run.cpu_seconds = round(cpu, 2)
    run.cpu_ms_per_callback = round(cpu * 1000 / max(1, acked), 3)
    run.rss_peak_mb = round(usage.sampler.peak / procs.MB, 1)
    run.rss_hwm_mb = round(usage.hwm / procs.MB, 1)
    run.pss_peak_mb = round(usage.sampler.pss_peak / procs.MB, 1)
    run.broker_cpu_seconds = Window.seconds(usage.window.broker)
    run.broker_cpu_ms_per_callback = round(run.broker_cpu_seconds * 1000 / max(1, acked), 3)
    run.loadgen_cpu_seconds = Window.seconds(usage.window.loadgen)
    run.other_cpu_seconds = round(usage.window.others, 2)
    run.load_average = usage.window.load
    return run


class Planned(NamedTuple):
    """A run to take, in rounds: `attempt(label)` takes it once, under that name."""

    name: str
    attempt: Callable[[str], Run]


class Broker(NamedTuple):
    bootstrap: str
    pid: int | None  # when it runs on this machine, to measure its CPU
    data: Path | None  # its log.dirs, when known, to read the batches it stored


@contextmanager
def broker(options: Options, work: Path) -> Iterator[Broker]:
    """The given broker, or a local one on free ports for this run alone."""
    if options.bootstrap:
        host, _, port = options.bootstrap.rpartition(":")
        nearby = host in ("127.0.0.1", "localhost", "[::1]") and port.isdigit()
        pid = procs.listener(int(port)) if nearby else None
        yield Broker(options.bootstrap, pid, options.broker_data)
        return
    local = LocalBroker(work / "kafka")
    print(f"starting a local broker on {local.bootstrap}", flush=True)
    local.start()
    try:
        yield Broker(local.bootstrap, local.pid, local.state_dir / "data")
    finally:
        local.stop()


def wait_until_quiet(seconds: int) -> None:
    deadline = time.monotonic() + seconds
    while load_average() >= QUIET_LOAD and time.monotonic() < deadline:
        time.sleep(5)


def _interrupt(sig: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    # SIGTERM, and SIGINT where a shell started this in the background and ignores it,
    # end a run as Ctrl-C does: its servers and broker are stopped, not left behind.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    options = parse(argv, __doc__)
    try:
        loadgen.ensure_tools()
    except loadgen.ToolMissing as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2
    if options.wait_quiet:
        wait_until_quiet(options.wait_quiet)
    load = load_average()
    print(f"load average (1 min) before the runs: {load:.2f}", flush=True)
    if load >= QUIET_LOAD:
        print(f"note: the machine is not quiet (load >= {QUIET_LOAD}); figures will be lower")
    with (
        tempfile.TemporaryDirectory(prefix="bench-") as tmp,
        broker(options, Path(tmp)) as kafka,
    ):
        if options.bootstrap:
            options.broker_warmup = 0  # a running broker has been serving already
        bench = Bench(options, kafka.bootstrap, kafka.pid, Path(tmp), kafka.data)
        bench.load_before = load
        if options.soak is not None:
            bench.soak()
        else:
            bench.bench()
    return 1 if bench.failed else 0
