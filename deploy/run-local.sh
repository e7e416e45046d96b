#!/usr/bin/env bash
# `make run`: the local broker on 127.0.0.1:9092 and the bridge on
# 127.0.0.1:8080 in the foreground. Ctrl-C stops the bridge, then the broker
# (unless the broker was already running before, e.g. from `make kafka-up`).
set -euo pipefail
cd "$(dirname "$0")/.."

kafka=deploy/kafka/kafka.sh
if bash "$kafka" status >/dev/null 2>&1; then
  echo "run: using the broker already running on 127.0.0.1:9092"
else
  bash "$kafka" start
  trap 'bash "$kafka" stop' EXIT
fi

# Local development only: no tokens, and the topics are created if missing.
export BRIDGE_ALLOW_UNAUTHENTICATED="${BRIDGE_ALLOW_UNAUTHENTICATED:-true}"
export BRIDGE_CREATE_TOPICS="${BRIDGE_CREATE_TOPICS:-true}"
# Ctrl-C reaches the bridge, which drains and exits; then the EXIT trap stops the broker.
.venv/bin/bridge serve
