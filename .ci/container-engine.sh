#!/usr/bin/env bash
# CI: a container engine on a fresh machine of this kind (Debian bookworm, root, no systemd,
# hybrid cgroups): rootful podman from Debian's packages, and mmdebstrap for base images.
# It only installs and configures; .ci/run starts podman's API socket for testcontainers.
set -euo pipefail

if ! command -v podman >/dev/null || ! command -v runc >/dev/null \
    || ! command -v mmdebstrap >/dev/null; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman runc mmdebstrap
fi

# At most the machine's hard limits: a container may not raise them.
limit() {
  local hard=$1 cap=$2
  if [[ $hard == unlimited ]] || ((hard > cap)); then
    printf '%s\n' "$cap"
  else
    printf '%s\n' "$hard"
  fi
}
nofile=$(limit "$(ulimit -Hn)" 1048576)
nproc=$(limit "$(ulimit -Hu)" 32768)

# crun refuses the hybrid cgroups, and without systemd neither its cgroup manager nor
# the journal is there.
mkdir -p /etc/containers/containers.conf.d
cat >/etc/containers/containers.conf.d/50-video-callback-bridge.conf <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF

podman info --format 'ci: podman {{.Version.Version}}, {{.Host.OCIRuntime.Name}}, cgroups {{.Host.CgroupsVersion}}'
