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
LIB_DIR="$SCRIPT_DIR/lib"
POM="$SCRIPT_DIR/pom.xml"
TEMPLATE=${KAFKA_TEMPLATE:-$SCRIPT_DIR/server.properties.template}
LOG4J_CONFIG="$SCRIPT_DIR/log4j2.yaml"
FETCH_STAMP="$LIB_DIR/.fetched"

PORT=${KAFKA_PORT:-9092}
CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
STATE_DIR=${KAFKA_STATE_DIR:-$SCRIPT_DIR/state}
HEAP=${KAFKA_HEAP:--Xms256m -Xmx512m}
START_TIMEOUT=${KAFKA_START_TIMEOUT:-60}
STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}

JVM_FLAGS=(
  -XX:+UseG1GC
  -XX:MaxGCPauseMillis=20
  -XX:InitiatingHeapOccupancyPercent=35
  -XX:+ExplicitGCInvokesConcurrent
  -XX:+ExitOnOutOfMemoryError
  -Djava.awt.headless=true
)
# Short-lived tool JVMs (storage format, readiness probe): quick start-up.
TOOL_FLAGS=(
  -Xms32m
  -Xmx256m
  -XX:+UseSerialGC
  -XX:TieredStopAtLevel=1
  -Djava.awt.headless=true
)

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
  PROBE_CONFIG="$STATE_DIR/probe.properties"
}

check_number() {
  [[ $2 =~ ^[0-9]+$ ]] || die "$1 must be a number, got '$2'"
}

require_java() {
  command -v java >/dev/null 2>&1 || die "java not found; install Java 17+"
}

# True if something accepts TCP connections on 127.0.0.1:$1.
port_open() {
  # shellcheck disable=SC2016  # $1 is expanded by the inner shell
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# The pid recorded in the state dir, if that process is our broker and alive
# (not a zombie, not a reused pid: its command line names our config file).
running_pid() {
  local pid args
  [[ -n ${PID_FILE:-} && -f $PID_FILE ]] || return 1
  pid=$(<"$PID_FILE")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  args=$(ps -o args= -p "$pid" 2>/dev/null) || return 1
  [[ $args == *kafka.Kafka*"$CONFIG"* ]] || return 1
  printf '%s\n' "$pid"
}

# True once the process has exited. A zombie whose threads have all ended
# counts as gone (its parent may reap it late); a zombie main thread with
# other threads still running does not (they may still hold the ports).
pid_gone() {
  local stat threads
  read -r stat threads < <(ps -o stat=,nlwp= -p "$1" 2>/dev/null) || return 0
  [[ $stat == Z* ]] && ((threads <= 1))
}

wait_gone() {
  while ! pid_gone "$1"; do
    sleep 0.1
  done
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

show_log_tail() {
  local f
  for f in "$OUT_FILE" "$LOG_FILE"; do
    if [[ -s $f ]]; then
      printf -- '--- last lines of %s ---\n' "$f" >&2
      tail -n 20 -- "$f" >&2
    fi
  done
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
  cat >"$PROBE_CONFIG" <<EOF
# Admin client settings for the readiness probe (kafka.sh start).
request.timeout.ms=5000
default.api.timeout.ms=10000
socket.connection.setup.timeout.ms=2000
socket.connection.setup.timeout.max.ms=2000
reconnect.backoff.max.ms=500
EOF
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
  local pid cluster_id deadline

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
    if ! java "${TOOL_FLAGS[@]}" -cp "$LIB_DIR/*" kafka.tools.StorageTool \
        format --standalone -t "$cluster_id" -c "$CONFIG" >"$OUT_FILE" 2>&1; then
      cat -- "$OUT_FILE" >&2
      die "formatting $DATA_DIR failed"
    fi
  fi

  local -a heap
  read -r -a heap <<<"$HEAP"
  local -a cmd=(
    java "${heap[@]}" "${JVM_FLAGS[@]}"
    "-Dlog4j2.configurationFile=$LOG4J_CONFIG"
    "-Dkafka.logs.dir=$STATE_DIR"
    -cp "$LIB_DIR/*"
    kafka.Kafka "$CONFIG"
  )
  # A new session, so that a terminal's Ctrl-C does not reach the broker.
  if command -v setsid >/dev/null 2>&1; then
    cmd=(setsid "${cmd[@]}")
  fi
  (cd -- "$STATE_DIR" && exec "${cmd[@]}") </dev/null >"$OUT_FILE" 2>&1 &
  pid=$!
  printf '%s\n' "$pid" >"$PID_FILE"

  # Wait until the broker answers a real metadata request and lists itself
  # as a live (unfenced) broker.
  deadline=$((SECONDS + START_TIMEOUT))
  local ready=0
  while ((SECONDS < deadline)); do
    if pid_gone "$pid"; then
      rm -f -- "$PID_FILE"
      show_log_tail
      die "broker exited during start-up (see $LOG_FILE)"
    fi
    if port_open "$PORT" \
        && java "${TOOL_FLAGS[@]}" -cp "$LIB_DIR/*" org.apache.kafka.tools.ClusterTool \
          list-endpoints --bootstrap-server "127.0.0.1:$PORT" \
          --command-config "$PROBE_CONFIG" 2>/dev/null \
          | awk -v port="$PORT" '$2 == "127.0.0.1" && $3 == port && $5 == "unfenced" { found = 1 }
                                 END { exit !found }'; then
      ready=1
      break
    fi
    sleep 0.2
  done
  if ((ready == 0)); then
    show_log_tail
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid"
    rm -f -- "$PID_FILE"
    die "broker not ready after ${START_TIMEOUT}s (see $LOG_FILE)"
  fi
  say "ready on 127.0.0.1:$PORT (Apache Kafka $(kafka_version), pid $pid)"
}

cmd_stop() {
  local pid deadline
  check_number KAFKA_STOP_TIMEOUT "$STOP_TIMEOUT"
  abs_state_dir
  if ! pid=$(running_pid); then
    rm -f -- "$PID_FILE"
    say "not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  # A frozen (SIGSTOP) broker only acts on SIGTERM once it runs again.
  kill -CONT "$pid" 2>/dev/null || true
  deadline=$((SECONDS + STOP_TIMEOUT))
  while ! pid_gone "$pid" && ((SECONDS < deadline)); do
    sleep 0.2
  done
  if ! pid_gone "$pid"; then
    say "broker (pid $pid) did not stop within ${STOP_TIMEOUT}s; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid"
  fi
  rm -f -- "$PID_FILE"
  say "stopped (pid $pid)"
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
