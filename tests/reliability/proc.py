"""What another process uses, read from /proc: resident memory and open file descriptors."""

from __future__ import annotations

import os
from pathlib import Path


def rss_mib(pid: int) -> float:
    """Resident set size in MiB (`VmRSS` of /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))
