#!/usr/bin/env bash
# Run a local single-node Apache Kafka broker (KRaft, broker and controller
# in one JVM) from Maven Central jars. No Docker, no tarball.
#
# Usage: kafka.sh {fetch|start|stop|status|clean}
#
# Settings (environment):
#   KAFKA_PORT             client listener port           (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller listener port (default 9093)
#   KAFKA_STATE_DIR        pid, config, data and logs     (default <script dir>/state)
#   KAFKA_HEAP             JVM heap flags                 (default "-Xms256m -Xmx512m")
#   KAFKA_START_TIMEOUT    seconds to wait for readiness  (default 60)
#   KAFKA_STOP_TIMEOUT     seconds to wait before SIGKILL (default 30)
#   KAFKA_TEMPLATE         server.properties template     (default <script dir>/server.properties.template)
#
# Exit codes: 0 ok, 1 error, 2 usage, 3 `status` when not running.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=node.sh
source "$SCRIPT_DIR/node.sh"
POM="$SCRIPT_DIR/pom.xml"
TEMPLATE=${KAFKA_TEMPLATE:-$SCRIPT_DIR/server.properties.template}
FETCH_STAMP="$LIB_DIR/.fetched"

PORT=${KAFKA_PORT:-9092}
CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
STATE_DIR=${KAFKA_STATE_DIR:-$SCRIPT_DIR/state}
HEAP=${KAFKA_HEAP:--Xms256m -Xmx512m}
START_TIMEOUT=${KAFKA_START_TIMEOUT:-60}
STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}

say() { printf 'kafka: %s\n' "$*"; }
die() { printf 'kafka: %s\n' "$*" >&2; exit 1; }

# --------------------------------------------------------------------------
# helpers

# Resolve the state dir to an absolute path (creating it with `create`)
# and derive the paths inside it.
abs_state_dir() {
  if [[ ${1:-} == create ]]; then
    mkdir -p -- "$STATE_DIR"
  fi
  if [[ -d $STATE_DIR ]]; then
    STATE_DIR=$(cd -- "$STATE_DIR" && pwd -P)
  fi
  PID_FILE="$STATE_DIR/kafka.pid"
  CONFIG="$STATE_DIR/server.properties"
  DATA_DIR="$STATE_DIR/data"
  LOG_FILE="$STATE_DIR/kafka.log"
  OUT_FILE="$STATE_DIR/kafka.out"
  CLUSTER_ID_FILE="$STATE_DIR/cluster.id"
}

check_number() {
  [[ $2 =~ ^[0-9]+$ ]] || die "$1 must be a number, got '$2'"
}

require_java() {
  command -v java >/dev/null 2>&1 || die "java not found; install Java 17+"
}

# The broker's pid, if it runs.
running_pid() {
  broker_pid "$STATE_DIR"
}

# "127.0.0.1:PORT" as configured in the state dir (falls back to settings).
address() {
  local line
  if [[ -f $CONFIG ]] && line=$(grep -m1 '^advertised.listeners=' "$CONFIG"); then
    line=${line#*PLAINTEXT://}
    printf '%s\n' "${line%%,*}"
  else
    printf '127.0.0.1:%s\n' "$PORT"
  fi
}

kafka_version() {
  local jar
  for jar in "$LIB_DIR"/kafka_2.13-*.jar; do
    [[ -e $jar ]] || continue
    jar=${jar##*/kafka_2.13-}
    printf '%s\n' "${jar%.jar}"
    return 0
  done
  printf 'unknown\n'
}

# A random Kafka cluster id: 16 random bytes, base64url, no padding
# (like org.apache.kafka.common.Uuid; never starting with '-').
new_cluster_id() {
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    [[ $id == -* ]] || break
  done
  printf '%s\n' "$id"
}

render_config() {
  local tmp="$CONFIG.tmp"
  sed -e "s|@PORT@|$PORT|g" \
      -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" \
      -e "s|@DATA_DIR@|$DATA_DIR|g" \
      "$TEMPLATE" >"$tmp"
  mv -f -- "$tmp" "$CONFIG"
}

# --------------------------------------------------------------------------
# subcommands

cmd_fetch() {
  mkdir -p -- "$LIB_DIR"
  # Serialise concurrent fetches (e.g. parallel test workers).
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$LIB_DIR/.lock"
    flock 9
  fi
  if [[ -f $FETCH_STAMP && ! $POM -nt $FETCH_STAMP ]] \
      && compgen -G "$LIB_DIR/kafka_2.13-*.jar" >/dev/null; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "mvn not found; install Maven 3.6+"
  say "fetching jars into $LIB_DIR (mvn dependency:copy-dependencies)"
  # Start from an empty folder so that jars of an older pom do not linger.
  rm -f -- "$LIB_DIR"/*.jar "$FETCH_STAMP"
  # (Maven 3.8 prints stray colour codes even in batch mode: strip them.)
  if ! mvn -q -B -ntp -f "$POM" dependency:copy-dependencies 2>&1 \
      | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d' >&2; then
    die "mvn dependency:copy-dependencies failed"
  fi
  touch -- "$FETCH_STAMP"
}

cmd_start() {
  local pid cluster_id

  check_number KAFKA_PORT "$PORT"
  check_number KAFKA_CONTROLLER_PORT "$CONTROLLER_PORT"
  check_number KAFKA_START_TIMEOUT "$START_TIMEOUT"
  abs_state_dir create

  if pid=$(running_pid); then
    say "already running on $(address) (pid $pid)"
    return 0
  fi
  rm -f -- "$PID_FILE"

  require_java
  local p
  for p in "$PORT" "$CONTROLLER_PORT"; do
    if port_open "$p"; then
      die "port 127.0.0.1:$p is in use by another process"
    fi
  done

  cmd_fetch
  # Do not hand the fetch lock down to the broker JVM.
  exec 9>&-

  mkdir -p -- "$DATA_DIR"
  render_config

  if [[ ! -s $CLUSTER_ID_FILE ]]; then
    new_cluster_id >"$CLUSTER_ID_FILE"
  fi
  cluster_id=$(<"$CLUSTER_ID_FILE")

  if [[ ! -f $DATA_DIR/meta.properties ]]; then
    if ! kafka_tool kafka.tools.StorageTool \
        format --standalone -t "$cluster_id" -c "$CONFIG" >"$OUT_FILE" 2>&1; then
      cat -- "$OUT_FILE" >&2
      die "formatting $DATA_DIR failed"
    fi
  fi

  pid=$(launch_broker "$STATE_DIR" "$HEAP")
  local not_ready
  if ! not_ready=$(await_started "$STATE_DIR" "$pid" "$PORT" "$((SECONDS + START_TIMEOUT))"); then
    show_log_tail "$STATE_DIR"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid"
    rm -f -- "$PID_FILE"
    die "broker on 127.0.0.1:$PORT not ready: it $not_ready (see $LOG_FILE)"
  fi
  say "ready on 127.0.0.1:$PORT (Apache Kafka $(kafka_version), pid $pid)"
}

cmd_stop() {
  local pid
  check_number KAFKA_STOP_TIMEOUT "$STOP_TIMEOUT"
  abs_state_dir
  if ! pid=$(running_pid); then
    rm -f -- "$PID_FILE"
    say "not running"
    return 0
  fi
  stop_brokers "$STOP_TIMEOUT" broker "$pid"
  rm -f -- "$PID_FILE"
}

cmd_status() {
  local pid
  abs_state_dir
  if pid=$(running_pid); then
    say "running on $(address) (pid $pid)"
    return 0
  fi
  say "not running"
  return 3
}

cmd_clean() {
  cmd_stop
  [[ -d $STATE_DIR ]] || return 0
  # Only delete what looks like a broker state dir (guards a mistyped
  # KAFKA_STATE_DIR such as $HOME).
  if [[ ! -f $CONFIG && ! -f $CLUSTER_ID_FILE ]] \
      && [[ -n $(ls -A -- "$STATE_DIR") ]]; then
    die "$STATE_DIR does not look like a broker state dir; not removing it"
  fi
  rm -rf -- "$STATE_DIR"
  say "removed $STATE_DIR"
}

usage() {
  printf 'usage: %s {fetch|start|stop|status|clean}\n' "${0##*/}" >&2
  exit 2
}

main() {
  (($# == 1)) || usage
  case $1 in
    fetch) cmd_fetch ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    clean) cmd_clean ;;
    *) usage ;;
  esac
}

main "$@"
