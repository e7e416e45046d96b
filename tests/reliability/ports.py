"""Ports for processes that go away and come back on the same address.

`tests.broker.free_port` hands out ports from the kernel's ephemeral range.
While a broker or a bridge on such a port is down, any outgoing connection on
the machine may be given that port, and a client retrying a connection to it
may even connect to itself on it (TCP simultaneous open); either way the
process cannot bind it again. Ports below the ephemeral range are never
handed out that way.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")


def quiet_port() -> int:
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
