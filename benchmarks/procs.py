"""CPU time and resident memory of a process and its descendants, read from /proc."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1_000_000


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state is [0], ppid [1])."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def tree(pid: int) -> list[int]:
    """`pid` and every live descendant (a worker pool's parent, workers and helpers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, ()))
    return found


def listener(port: int) -> int | None:
    """The process listening on TCP `port` of this machine, when it can be seen."""
    sockets = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
                sockets.add(f"socket:[{fields[9]}]")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in sockets for fd in (entry / "fd").iterdir()):
                return int(entry.name)
        except OSError:
            continue
    return None


def cpu_seconds(pids: list[int]) -> float:
    """User plus system time of the given processes (utime + stime), in seconds."""
    ticks = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / _TICKS


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy (all cores; idle and I/O wait excluded)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / _TICKS


def wait_exited(pid: int) -> None:
    """Until child `pid` has exited, without reaping it: its /proc entry stays readable."""
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)


def rss_bytes(pids: list[int]) -> int:
    """Resident memory of the given processes, summed."""
    total = 0
    for pid in pids:
        try:
            resident = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        total += resident * _PAGE
    return total


def pss_bytes(pids: list[int]) -> int:
    """Proportional set size, summed: pages shared between the processes counted once."""
    total = 0
    for pid in pids:
        try:
            lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            if line.startswith("Pss:"):
                total += int(line.split()[1]) * 1024
    return total


def hwm_bytes(pids: list[int]) -> int:
    """The kernel's own peak resident memory (VmHWM) of each process, summed."""
    total = 0
    for pid in pids:
        try:
            lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) * 1024
    return total


@dataclass
class Sampler:
    """Samples the resident memory of a process tree on a thread, every `interval` seconds."""

    pid: int
    interval: float = 0.25
    samples: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, RSS bytes)
    pss_peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def _sample(self) -> None:
        pids = tree(self.pid)
        rss = rss_bytes(pids)
        if rss:
            self.samples.append((time.monotonic(), rss))
            self.pss_peak = max(self.pss_peak, pss_bytes(pids))

    @property
    def peak(self) -> int:
        return max((rss for _, rss in self.samples), default=0)

    def slope_mb_per_min(self, after: float) -> float:
        """Least-squares slope of the samples taken `after` seconds past the first one."""
        if not self.samples:
            return 0.0
        start = self.samples[0][0] + after
        points = [(t, rss / MB) for t, rss in self.samples if t >= start]
        if len(points) < 2:
            return 0.0
        mean_t = sum(t for t, _ in points) / len(points)
        mean_m = sum(m for _, m in points) / len(points)
        spread = sum((t - mean_t) ** 2 for t, _ in points)
        if spread == 0:
            return 0.0
        slope = sum((t - mean_t) * (m - mean_m) for t, m in points) / spread
        return slope * 60


@dataclass
class CpuWindow:
    """CPU seconds a process tree spends between `start()` and `stop()`."""

    pid: int
    _started: float = 0.0
    seconds: float = 0.0

    def start(self) -> None:
        self._started = cpu_seconds(tree(self.pid))

    def stop(self) -> float:
        self.seconds = cpu_seconds(tree(self.pid)) - self._started
        return self.seconds
