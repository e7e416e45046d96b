"""Ports for the processes the tests start: free, and below the kernel's ephemeral range.

A port from the ephemeral range (what binding port 0 gives) may be handed to
any outgoing connection on the machine between the moment it is picked and
the moment the broker or bridge binds it, and while such a process is down a
client retrying a connection to it may even connect to itself (TCP
simultaneous open). Under load (a benchmark, another test run) both happen.
Ports below the ephemeral range are never handed out that way.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")


def free_port() -> int:
    """A free port on 127.0.0.1 below the ephemeral range."""
    low = int(_EPHEMERAL.read_text().split()[0]) if _EPHEMERAL.exists() else 32768
    while True:
        port = random.randrange(10_000, low)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
