"""A real local Kafka broker for tests, driven through deploy/kafka/kafka.sh.

Each :class:`LocalBroker` owns a state directory (config, data, pid file,
``kafka.log``) and a pair of ports, so several brokers can run side by side
and a broker can be stopped, killed or frozen and started again on the same
data and port.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil

from tests.ports import free_port
from tests.running import GONE_TIMEOUT, Started, alive, kill_and_wait, run_script

__all__ = ["KAFKA_SH", "LocalBroker"]

KAFKA_SH = Path(__file__).resolve().parents[1] / "deploy" / "kafka" / "kafka.sh"


def _proc_state(pid: int) -> str | None:
    """The process state (psutil's: running, sleeping, stopped, zombie, ...), None if gone."""
    try:
        return str(psutil.Process(pid).status())
    except psutil.NoSuchProcess:
        return None


class LocalBroker(Started):
    """A single-node KRaft broker on 127.0.0.1 with its own state directory."""

    def __init__(
        self,
        state_dir: Path,
        port: int | None = None,
        controller_port: int | None = None,
        template: Path | None = None,
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.template = template  # server.properties template (default: kafka.sh's own)
        self.port = port if port is not None else free_port()
        if controller_port is None:
            controller_port = free_port()
            while controller_port == self.port:
                controller_port = free_port()
        self.controller_port = controller_port
        self.bootstrap = f"127.0.0.1:{self.port}"

    def __repr__(self) -> str:
        return f"LocalBroker({self.bootstrap}, state_dir={str(self.state_dir)!r})"

    # -- paths -------------------------------------------------------------

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "kafka.pid"

    @property
    def log_file(self) -> Path:
        """The broker's log (Log4j), useful in assertion messages."""
        return self.state_dir / "kafka.log"

    @property
    def pid(self) -> int | None:
        """The broker JVM's pid while it is alive, else None."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if alive(pid) else None

    # -- lifecycle ---------------------------------------------------------

    def _run(self, command: str) -> str:
        env = {
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "KAFKA_STATE_DIR": str(self.state_dir),
        }
        if self.template is not None:
            env["KAFKA_TEMPLATE"] = str(self.template)
        return run_script(KAFKA_SH, command, env=env, who=self)

    def start(self) -> None:
        """Start the broker and wait until it serves metadata requests."""
        self._run("start")

    def stop(self) -> None:
        """Stop gracefully (SIGTERM, waits until the JVM has exited)."""
        self._run("stop")

    def kill(self) -> None:
        """SIGKILL the broker JVM and wait until it is gone."""
        pid = self.pid
        if pid is None:
            return
        kill_and_wait(pid, f"{self!r}: pid {pid}")
        self.pid_file.unlink(missing_ok=True)

    def freeze(self) -> None:
        """Suspend the broker JVM (SIGSTOP): connections stay open, no replies.

        Returns once the process is seen stopped (where /proc exists).
        """
        pid = self._require_pid()
        os.kill(pid, signal.SIGSTOP)
        deadline = time.monotonic() + GONE_TIMEOUT
        while _proc_state(pid) not in (None, psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self!r}: pid {pid} did not stop on SIGSTOP")
            time.sleep(0.01)

    def thaw(self) -> None:
        """Resume a frozen broker JVM (SIGCONT)."""
        os.kill(self._require_pid(), signal.SIGCONT)

    def _require_pid(self) -> int:
        pid = self.pid
        if pid is None:
            raise RuntimeError(f"{self!r} is not running")
        return pid
