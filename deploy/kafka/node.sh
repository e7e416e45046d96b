# shellcheck shell=bash
# Sourced by kafka.sh and cluster.sh: the life of one broker JVM run from the jars in lib/,
# each with a folder of its own that holds its server.properties, kafka.pid, kafka.out
# (the JVM's stdout and stderr, new at every start) and kafka.log.
#
# The sourcing script sets SCRIPT_DIR (this folder) and defines say and die.

LIB_DIR="$SCRIPT_DIR/lib"
LOG4J_CONFIG="$SCRIPT_DIR/log4j2.yaml"

# The broker's flags as Kafka's own start script sets them.
JVM_FLAGS=(
  -XX:+UseG1GC
  -XX:MaxGCPauseMillis=20
  -XX:InitiatingHeapOccupancyPercent=35
  -XX:+ExplicitGCInvokesConcurrent
  -XX:+ExitOnOutOfMemoryError
  -Djava.awt.headless=true
)
# Short-lived tool JVMs (storage format, topics, ACLs): quick start-up.
TOOL_FLAGS=(
  -Xms32m
  -Xmx256m
  -XX:+UseSerialGC
  -XX:TieredStopAtLevel=1
  -Djava.awt.headless=true
)

# What KafkaRaftServer logs once the broker is unfenced and every listener accepts
# connections; log4j2.yaml copies that logger to stdout, that is kafka.out.
STARTED_LINE="Kafka Server started"

# One of Kafka's command-line tools: kafka_tool CLASS ARGUMENT...
kafka_tool() {
  java "${TOOL_FLAGS[@]}" -cp "$LIB_DIR/*" "$@"
}

# True if something accepts TCP connections on 127.0.0.1:$1.
port_open() {
  # shellcheck disable=SC2016  # $1 is expanded by the inner shell
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# The pid recorded in DIR/kafka.pid, if that process is alive and is the broker of
# DIR/server.properties (not a reused pid).
broker_pid() {
  local dir=$1 pid args
  [[ -f $dir/kafka.pid ]] || return 1
  pid=$(<"$dir/kafka.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  args=$(ps -o args= -p "$pid" 2>/dev/null) || return 1
  [[ $args == *kafka.Kafka*"$dir/server.properties"* ]] || return 1
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

# Starts the broker of DIR/server.properties in the background with the heap flags given
# (one string) and records its pid in DIR/kafka.pid; prints the pid.
launch_broker() {
  local dir=$1 pid
  local -a heap cmd
  read -r -a heap <<<"$2"
  cmd=(java "${heap[@]}" "${JVM_FLAGS[@]}" "-Dlog4j2.configurationFile=$LOG4J_CONFIG"
    "-Dkafka.logs.dir=$dir" -cp "$LIB_DIR/*" kafka.Kafka "$dir/server.properties")
  # A new session, so that a terminal's Ctrl-C does not reach the broker.
  if command -v setsid >/dev/null 2>&1; then
    cmd=(setsid "${cmd[@]}")
  fi
  # Emptied here, before the broker starts, so that no reader of it sees an earlier start.
  : >"$dir/kafka.out"
  (cd -- "$dir" && exec "${cmd[@]}") </dev/null >>"$dir/kafka.out" 2>&1 &
  pid=$!
  printf '%s\n' "$pid" >"$dir/kafka.pid"
  printf '%s\n' "$pid"
}

# Waits until the broker PID of DIR has logged STARTED_LINE in its kafka.out, then checks
# once that it accepts connections on 127.0.0.1:PORT. The wait is `tail -f`, which sleeps
# until the file grows (inotify) and ends when the broker exits: no polling, no JVM. When
# the broker exits first, or SECONDS reaches DEADLINE, it fails printing what the broker
# did not do.
await_started() {
  local dir=$1 pid=$2 port=$3 deadline=$4 began=$SECONDS
  if ((deadline > SECONDS)) && grep -m1 -qF "$STARTED_LINE" < <(
    timeout "$((deadline - SECONDS))" tail -n +1 --pid="$pid" -f "$dir/kafka.out" 2>/dev/null
  ); then
    port_open "$port" && return 0
    printf 'logged "%s" but refuses connections on 127.0.0.1:%s\n' "$STARTED_LINE" "$port"
  elif pid_gone "$pid"; then
    printf 'exited during start-up\n'
  else
    printf 'did not log "%s" in %s s\n' "$STARTED_LINE" "$((SECONDS - began))"
  fi
  return 1
}

# The end of a broker's output and log, for a start that failed.
show_log_tail() {
  local file
  for file in "$1/kafka.out" "$1/kafka.log"; do
    if [[ -s $file ]]; then
      printf -- '--- last lines of %s ---\n' "$file" >&2
      tail -n 20 -- "$file" >&2
    fi
  done
}

# Stops brokers together: stop_brokers TIMEOUT NAME PID [NAME PID]... SIGTERM to each, and
# SIGKILL to any still running TIMEOUT seconds later. Together, because of three KRaft
# nodes stopped one by one, the last would wait for a quorum the others took away.
stop_brokers() {
  local timeout=$1 i
  local deadline=$((SECONDS + timeout))
  shift
  local -a names=() pids=()
  while (($# >= 2)); do
    names+=("$1")
    pids+=("$2")
    kill -TERM "$2" 2>/dev/null || true
    # A frozen (SIGSTOP) JVM only acts on SIGTERM once it runs again.
    kill -CONT "$2" 2>/dev/null || true
    shift 2
  done
  for i in "${!pids[@]}"; do
    while ! pid_gone "${pids[$i]}" && ((SECONDS < deadline)); do
      sleep 0.2
    done
    if ! pid_gone "${pids[$i]}"; then
      say "${names[$i]} (pid ${pids[$i]}) did not stop within ${timeout} s; sending SIGKILL" >&2
      kill -KILL "${pids[$i]}" 2>/dev/null || true
      wait_gone "${pids[$i]}"
    fi
    say "stopped ${names[$i]} (pid ${pids[$i]})"
  done
}
