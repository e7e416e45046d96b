"""A whole single-node Kubernetes on this machine, for `make cluster-test` (root).

The control plane (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler), a kubelet on Debian's containerd and runc with the CNI bridge
plugin, kube-proxy (iptables) and CoreDNS as the cluster DNS, all on free ports
or on the pod network's bridge. Everything lives in one state directory except
what the kernel and the runtime keep elsewhere (iptables rules, kernel
parameters, network namespaces, /run/containerd): `Machine` puts those back.

The pod network is a bridge made here (`vcb0`, 10.244.0.1/24). Its address is
the node's address and where the host's services for pods listen (the cluster
DNS; the test broker's pod listener). The Service is reached from the host on
a NodePort of 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from tests.deploy.kubernetes.apiserver import ApiServer, Process, Tools
from tests.deploy.kubernetes.kube import Kube
from tests.deploy.kubernetes.machine import Machine
from tests.ports import free_port
from tests.running import Started

BRIDGE = "vcb0"
NODE_IP = "10.244.0.1"
POD_SUBNET = "10.244.0.0/24"
SERVICE_SUBNET = "10.96.0.0/16"
NODE_NAME = "vcb-node"
PAUSE_IMAGE = "localhost/vcb-pause:1"
# What marks an iptables chain or rule as the node's (see machine.py).
OWNED = ("KUBE-", BRIDGE, "10.244.", "10.96.")
# Kernel parameters the kubelet and kube-proxy set.
SYSCTLS = (
    "vm/overcommit_memory",
    "kernel/panic",
    "kernel/panic_on_oops",
    "net/ipv4/conf/all/route_localnet",
    "net/bridge/bridge-nf-call-iptables",
    "net/ipv4/ip_forward",
)
_NODE_READY_TIMEOUT_S = 120.0
# It changes the machine: only where that was asked for.
OPT_IN = "BRIDGE_CLUSTER_TEST"


def refuse_unless_asked() -> None:
    if os.environ.get("CI") != "true" and os.environ.get(OPT_IN) != "yes":
        raise RuntimeError(
            "a test node changes iptables and kernel parameters of this machine (and puts them "
            f"back): it runs only with CI=true or {OPT_IN}=yes"
        )


def _run(*argv: str | Path, stdin: bytes | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in argv], input=stdin, capture_output=True, check=False, timeout=600
    )
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout.decode(errors="replace")


class Node(Started):
    """Start with `with Node(state_dir) as node:`; `node.kube` drives it."""

    def __init__(self, state_dir: Path) -> None:
        refuse_unless_asked()
        if os.geteuid() != 0:
            raise RuntimeError("a node needs root (containerd, network namespaces, iptables)")
        self.state_dir = state_dir
        self.tools = Tools()
        self.machine = Machine(owned=OWNED, sysctls=SYSCTLS)
        self.apiserver = ApiServer(
            state_dir / "apiserver",
            extra_args=["--kubelet-preferred-address-types=InternalIP"],
        )
        self.kube = Kube(self.apiserver.kubeconfig, state_dir / "helm-home", self.tools)
        self.containerd_socket = state_dir / "containerd" / "containerd.sock"
        self._processes: list[Process] = []
        self._netns_before: set[str] = set()

    # -- start -----------------------------------------------------------------

    def start(self) -> None:
        self.machine.snapshot()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._netns_before = set(_netns_names())
        self._make_bridge()
        self.apiserver.start()
        self._start_containerd()
        self._import_pause_image()
        kubeconfig = self.apiserver.kubeconfig
        api = self.apiserver.state_dir
        self._spawn(
            "kube-controller-manager",
            self.tools.kube("kube-controller-manager"),
            f"--kubeconfig={kubeconfig}",
            f"--service-account-private-key-file={api / 'service-account.key'}",
            f"--root-ca-file={api / 'serving.crt'}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}",
            f"--service-cluster-ip-range={SERVICE_SUBNET}",
        )
        self._spawn(
            "kube-scheduler",
            self.tools.kube("kube-scheduler"),
            f"--kubeconfig={kubeconfig}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}",
        )
        self._start_kubelet()
        self._spawn(
            "kube-proxy",
            self.tools.kube("kube-proxy"),
            f"--kubeconfig={kubeconfig}",
            f"--hostname-override={NODE_NAME}",
            "--proxy-mode=iptables",
            f"--cluster-cidr={POD_SUBNET}",
            "--nodeport-addresses=127.0.0.0/8",
            f"--healthz-bind-address=127.0.0.1:{free_port()}",
            f"--metrics-bind-address=127.0.0.1:{free_port()}",
            # Leave the machine's conntrack settings alone.
            "--conntrack-max-per-core=0",
            "--conntrack-tcp-timeout-established=0",
            "--conntrack-tcp-timeout-close-wait=0",
        )
        self._start_dns()
        self._wait_node_ready()

    def _spawn(self, name: str, *argv: str | Path) -> None:
        self._processes.append(Process(name, list(argv), self.state_dir / f"{name}.log"))

    def _make_bridge(self) -> None:
        """The pod network's bridge, before any pod, so that host services can bind its address."""
        links = json.loads(_run("ip", "-j", "link", "show"))
        if BRIDGE not in {link["ifname"] for link in links}:
            _run("ip", "link", "add", BRIDGE, "type", "bridge")
        _run("ip", "addr", "replace", f"{NODE_IP}/24", "dev", BRIDGE)
        _run("ip", "link", "set", BRIDGE, "up")

    def _start_containerd(self) -> None:
        root = self.state_dir / "containerd"
        cni = self.state_dir / "cni"
        (cni / "net.d").mkdir(parents=True, exist_ok=True)
        root.mkdir(parents=True, exist_ok=True)
        (cni / "net.d" / "10-vcb.conflist").write_text(
            json.dumps(
                {
                    "cniVersion": "1.0.0",
                    "name": "vcb-pods",
                    "plugins": [
                        {
                            "type": "bridge",
                            "bridge": BRIDGE,
                            "isGateway": True,
                            "ipMasq": False,
                            "hairpinMode": True,
                            "ipam": {
                                "type": "host-local",
                                "ranges": [[{"subnet": POD_SUBNET, "gateway": NODE_IP}]],
                                "routes": [{"dst": "0.0.0.0/0"}],
                                "dataDir": str(cni / "ipam"),
                            },
                        },
                        {"type": "loopback"},
                    ],
                }
            )
        )
        config = root / "config.toml"
        config.write_text(
            f"""\
version = 2
root = "{root / "root"}"
state = "{root / "state"}"
[grpc]
  address = "{self.containerd_socket}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  # Root here may not lower oom_score_adj: without this every sandbox fails to start.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni / "net.d"}"
"""
        )
        self._spawn("containerd", "containerd", f"--config={config}")
        deadline = time.monotonic() + 30
        while not self.containerd_socket.exists():
            self._processes[-1].check_running()
            if time.monotonic() > deadline:
                raise RuntimeError("containerd did not open its socket within 30 s")
            time.sleep(0.1)

    def ctr(self, *args: str, stdin: bytes | None = None) -> str:
        return _run(
            "ctr", f"--address={self.containerd_socket}", "--namespace=k8s.io", *args, stdin=stdin
        )

    def import_image(self, archive: bytes) -> None:
        """An image archive (`podman save`) into the node's runtime."""
        self.ctr("images", "import", "-", stdin=archive)

    def _import_pause_image(self) -> None:
        """The sandbox image: busybox-static as `/busybox`, sleeping (no registry here)."""
        work = self.state_dir / "pause"
        work.mkdir(exist_ok=True)
        tar = subprocess.run(
            ["tar", "-C", "/bin", "-c", "busybox"], capture_output=True, check=True
        ).stdout
        _run(
            "podman", "import",
            "--change", 'ENTRYPOINT ["/busybox", "sleep", "2147483647"]',
            "-", PAUSE_IMAGE,
            stdin=tar,
        )  # fmt: skip
        archive = work / "pause.tar"
        _run("podman", "save", "--format=docker-archive", f"--output={archive}", PAUSE_IMAGE)
        self.import_image(archive.read_bytes())

    def _start_kubelet(self) -> None:
        kubelet = self.state_dir / "kubelet"
        kubelet.mkdir(exist_ok=True)
        config = kubelet / "config.json"
        config.write_text(
            json.dumps(
                {
                    "apiVersion": "kubelet.config.k8s.io/v1beta1",
                    "kind": "KubeletConfiguration",
                    # The API server reaches it for `kubectl logs` and `exec`.
                    "address": "0.0.0.0",
                    "port": free_port(),
                    "readOnlyPort": 0,
                    "healthzBindAddress": "127.0.0.1",
                    "healthzPort": free_port(),
                    "authentication": {
                        "anonymous": {"enabled": True},
                        "webhook": {"enabled": False},
                    },
                    "authorization": {"mode": "AlwaysAllow"},
                    "cgroupDriver": "cgroupfs",
                    "cgroupsPerQOS": False,
                    "enforceNodeAllocatable": [],
                    "containerRuntimeEndpoint": f"unix://{self.containerd_socket}",
                    "clusterDNS": [NODE_IP],
                    "clusterDomain": "cluster.local",
                    "failSwapOn": False,
                    "podLogsDir": str(kubelet / "pods-logs"),
                    "evictionHard": {"memory.available": "100Mi"},
                    "serializeImagePulls": False,
                }
            )
        )
        self._spawn(
            "kubelet",
            self.tools.kube("kubelet"),
            f"--config={config}",
            f"--kubeconfig={self.apiserver.kubeconfig}",
            f"--root-dir={kubelet / 'root'}",
            f"--hostname-override={NODE_NAME}",
            f"--node-ip={NODE_IP}",
        )

    def _start_dns(self) -> None:
        corefile = self.state_dir / "Corefile"
        corefile.write_text(
            f"""\
.:53 {{
    bind {NODE_IP}
    errors
    kubernetes cluster.local in-addr.arpa {{
        kubeconfig {self.apiserver.kubeconfig} local
    }}
}}
"""
        )
        self._spawn("coredns", self.tools.coredns, "-conf", corefile)

    def _wait_node_ready(self) -> None:
        deadline = time.monotonic() + _NODE_READY_TIMEOUT_S
        while True:
            for process in self._processes:
                process.check_running()
            node = self.kube.get("node", NODE_NAME, "default")
            conditions = {
                c["type"]: c["status"] for c in (node or {}).get("status", {}).get("conditions", [])
            }
            if conditions.get("Ready") == "True":
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"node {NODE_NAME} not ready after {_NODE_READY_TIMEOUT_S} s: {conditions}"
                )
            time.sleep(0.5)

    # -- stop ------------------------------------------------------------------

    def stop(self) -> None:
        """Stops every pod and process, removes the bridge and the node's rules."""
        if self.containerd_socket.exists():
            self._remove_containers()
        for process in reversed(self._processes):
            process.stop()
        self._processes.clear()
        self._kill_shims()
        self.apiserver.stop()
        for name in set(_netns_names()) - self._netns_before:
            subprocess.run(["ip", "netns", "delete", name], check=False)
        subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True, check=False)
        self._unmount_under(self.state_dir)
        problems = self.machine.restore()
        if problems:
            raise RuntimeError("the machine could not be put back fully:\n" + "\n".join(problems))

    def _remove_containers(self) -> None:
        try:
            for line in self.ctr("tasks", "ls", "--quiet").split():
                subprocess.run(
                    ["ctr", f"--address={self.containerd_socket}", "--namespace=k8s.io",
                     "tasks", "kill", "--signal=SIGKILL", line],
                    capture_output=True, check=False,
                )  # fmt: skip
            deadline = time.monotonic() + 30
            while self.ctr("tasks", "ls", "--quiet").split() and time.monotonic() < deadline:
                time.sleep(0.2)
        except RuntimeError:
            pass

    def _kill_shims(self) -> None:
        """The runtime's shims outlive containerd: end those of this node's containerd."""
        address = str(self.containerd_socket).encode()
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                argv = cmdline.read_bytes().split(b"\0")
            except OSError:
                continue
            if argv[0].endswith(b"containerd-shim-runc-v2") and address in argv:
                subprocess.run(["kill", "-KILL", cmdline.parent.name], check=False)

    @staticmethod
    def _unmount_under(directory: Path) -> None:
        """Mounts the kubelet and containerd left under the state directory (deepest first)."""
        prefix = str(directory.resolve())
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        for target in sorted((m for m in mounts if m.startswith(prefix)), reverse=True):
            subprocess.run(["umount", "--lazy", target], check=False)


def _netns_names() -> list[str]:
    return [line.split()[0] for line in _run("ip", "netns", "list").splitlines() if line.strip()]
