"""What the servers under test use: CPU over a measured window, memory over a run."""

from __future__ import annotations

import os
import resource
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from benchmarks import procs


def load_average() -> float:
    """The 1-minute load average."""
    return round(os.getloadavg()[0], 2)


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Window:
    """CPU seconds over a measured window: the server's, the broker's, the load generator's,
    and the rest of the machine's (other work running meanwhile skews the figures)."""

    server_pid: int
    broker_pid: int | None
    server: procs.CpuWindow = field(init=False)
    broker: procs.CpuWindow | None = field(init=False)
    loadgen: procs.CpuWindow | None = None
    others: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)  # the 1-minute load average at start and end
    # Wall clock at start and end, in ms since the epoch: the broker's batch times are.
    started_ms: int = 0
    stopped_ms: int = 0
    _busy: float = 0.0
    _own: float = 0.0

    def __post_init__(self) -> None:
        self.server = procs.CpuWindow(self.server_pid)
        self.broker = None if self.broker_pid is None else procs.CpuWindow(self.broker_pid)

    def _parts(self) -> list[procs.CpuWindow]:
        return [w for w in (self.server, self.broker, self.loadgen) if w is not None]

    def start(self, loadgen_pid: int | None = None) -> None:
        self.load = (load_average(), 0.0)
        self.started_ms = time.time_ns() // 1_000_000
        self.loadgen = None if loadgen_pid is None else procs.CpuWindow(loadgen_pid)
        for part in self._parts():
            part.start()
        self._busy, self._own = procs.machine_busy_seconds(), _own_cpu()

    def stop(self) -> None:
        for part in self._parts():
            part.stop()
        busy = procs.machine_busy_seconds() - self._busy
        own = _own_cpu() - self._own  # this harness: sampling, scraping
        self.others = max(0.0, busy - own - sum(part.seconds for part in self._parts()))
        self.load = (self.load[0], load_average())
        self.stopped_ms = time.time_ns() // 1_000_000

    def measure(self, process: subprocess.Popen[bytes]) -> None:
        """The window is the life of `process`, a load generator."""
        self.start(process.pid)
        procs.wait_exited(process.pid)
        self.stop()

    @staticmethod
    def seconds(part: procs.CpuWindow | None) -> float:
        return 0.0 if part is None else round(part.seconds, 2)


@dataclass
class Usage:
    """What the server under test used: CPU in the measured window, memory over the run."""

    window: Window
    sampler: procs.Sampler
    hwm: int = 0


@contextmanager
def watching(pid: int, broker_pid: int | None, every: float = 0.25) -> Iterator[Usage]:
    """Samples the memory of `pid` and its descendants while the block runs."""
    with procs.Sampler(pid, interval=every) as sampler:
        usage = Usage(Window(pid, broker_pid), sampler)
        yield usage
        usage.hwm = max(usage.hwm, procs.hwm_bytes(procs.tree(pid)))  # 0 once it has exited
