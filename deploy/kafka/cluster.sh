#!/usr/bin/env bash
# A local three-node Apache Kafka cluster (KRaft), shaped like production:
# replication factor 3, min.insync.replicas=2, SASL_SSL (SCRAM-SHA-512) and
# mutual-TLS listeners, the standard authorizer with ACLs for the bridge.
# Same jars as kafka.sh; the CA and certificates are made here with openssl.
# A second SASL_SSL listener per node advertises the address of a proxy in
# front of it instead of its own, so that a client bootstrapped through the
# proxies reaches every broker through them (network faults with Toxiproxy).
#
# Usage: cluster.sh {up|down|stop NODE|status|clean}
#   up      create what is missing (certificates, users, storage), start every
#           node that is not running, wait until all are in sync, grant the
#           bridge's ACLs, create its topics, write bridge.env, bridge-mtls.env,
#           bridge-proxied.env and toxiproxy.json
#   down    stop every node (SIGTERM, SIGKILL after KAFKA_STOP_TIMEOUT)
#   stop N  stop node N (1-3) alone; `up` brings it back
#
# Settings (environment), read when the cluster dir is first made and kept in
# <cluster dir>/ports.env from then on, so a node comes back where it was:
#   KAFKA_CLUSTER_DIR               everything of the cluster (default <script dir>/cluster)
#   KAFKA_CLUSTER_SASL_PORTS        SASL_SSL listeners, node 1,2,3 (default 19192,19292,19392)
#   KAFKA_CLUSTER_MTLS_PORTS        mutual-TLS listeners           (default 19193,19293,19393)
#   KAFKA_CLUSTER_OAUTH_PORTS       OAUTHBEARER listeners          (default 19194,19294,19394)
#   KAFKA_CLUSTER_TOOLS_PORTS       plaintext tools listeners      (default 19191,19291,19391)
#   KAFKA_CLUSTER_CONTROLLER_PORTS  KRaft controller listeners     (default 19195,19295,19395)
#   KAFKA_CLUSTER_PROXIED_PORTS     SASL_SSL listeners behind a proxy (default 19196,19296,19396)
#   KAFKA_CLUSTER_PROXY_PORTS       the proxies in front of them, as the brokers advertise
#                                   them (default 19197,19297,19397; see toxiproxy.json)
#   KAFKA_CLUSTER_TOPICS            topics `up` creates and grants (default: the bridge's default topics)
# Read on every run:
#   KAFKA_CLUSTER_HEAP              JVM heap flags per node        (default "-Xms128m -Xmx384m")
#   KAFKA_START_TIMEOUT / KAFKA_STOP_TIMEOUT  seconds (default 90 / 30)
#
# Exit codes: 0 ok, 1 error, 2 usage, 3 `status` when not every node runs.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=node.sh
source "$SCRIPT_DIR/node.sh"
TEMPLATE="$SCRIPT_DIR/cluster.properties.template"

DIR=${KAFKA_CLUSTER_DIR:-$SCRIPT_DIR/cluster}
HEAP=${KAFKA_CLUSTER_HEAP:--Xms128m -Xmx384m}
START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
NODES=(1 2 3)
# The bridge's principal: its SCRAM user and its client certificate's CN.
BRIDGE_USER=bridge

say() { printf 'kafka-cluster: %s\n' "$*"; }
die() { printf 'kafka-cluster: %s\n' "$*" >&2; exit 1; }

# --------------------------------------------------------------------------
# layout and settings

paths() {
  mkdir -p -- "$DIR"
  DIR=$(cd -- "$DIR" && pwd -P)
  TLS_DIR="$DIR/tls"
  PORTS_FILE="$DIR/ports.env"
  SECRETS_FILE="$DIR/secrets.env"
  CLUSTER_ID_FILE="$DIR/cluster.id"
}

node_dir() { printf '%s/node-%s\n' "$DIR" "$1"; }

# The Nth (1-based) item of a comma-separated list.
nth() {
  local -a items
  IFS=, read -r -a items <<<"$1"
  printf '%s\n' "${items[$(($2 - 1))]}"
}

check_ports() {
  local name=$1 value=$2
  [[ $value =~ ^[0-9]+,[0-9]+,[0-9]+$ ]] || die "$name must be three ports like 1,2,3, got '$value'"
}

load_ports() {
  # A cluster dir made before a listener existed gets that listener's ports
  # added to its ports.env; the ports already there stay.
  local name value missing=""
  for name in SASL:19192,19292,19392 MTLS:19193,19293,19393 OAUTH:19194,19294,19394 \
      TOOLS:19191,19291,19391 CONTROLLER:19195,19295,19395 \
      PROXIED:19196,19296,19396 PROXY:19197,19297,19397; do
    value=${name#*:}
    name=KAFKA_CLUSTER_${name%%:*}_PORTS
    [[ -f $PORTS_FILE ]] && grep -q "^$name=" -- "$PORTS_FILE" && continue
    value=${!name:-$value}
    check_ports "$name" "$value"
    missing+="$name=$value"$'\n'
  done
  if [[ -n $missing ]]; then
    { [[ ! -f $PORTS_FILE ]] || cat -- "$PORTS_FILE"; printf '%s' "$missing"; } >"$PORTS_FILE.tmp"
    mv -f -- "$PORTS_FILE.tmp" "$PORTS_FILE"
  fi
  # shellcheck source=/dev/null
  source "$PORTS_FILE"
}

load_secrets() {
  if [[ ! -f $SECRETS_FILE ]]; then
    (
      umask 077
      printf 'STORE_PASSWORD=%s\nBRIDGE_PASSWORD=%s\nADMIN_PASSWORD=%s\n' \
        "$(openssl rand -hex 16)" "$(openssl rand -hex 16)" "$(openssl rand -hex 16)" \
        >"$SECRETS_FILE.tmp"
    )
    mv -f -- "$SECRETS_FILE.tmp" "$SECRETS_FILE"
  fi
  # shellcheck source=/dev/null
  source "$SECRETS_FILE"
}

# Comma-separated host:port list of one listener on every node.
bootstrap() {
  local ports=$1 node out=""
  for node in "${NODES[@]}"; do
    out+="${out:+,}127.0.0.1:$(nth "$ports" "$node")"
  done
  printf '%s\n' "$out"
}

topics() {
  # The bridge's default topic of every kind, then the dead letters (tests/unit/test_kinds.py checks it).
  printf '%s\n' "${KAFKA_CLUSTER_TOPICS:-vod.video-upload.v1,vod.material-upload.v1,vod.video-transcode.v1,vod.media-processing.v1,vod.callbacks.dlq.v1}"
}

# --------------------------------------------------------------------------
# certificates: a CA, one broker certificate, the bridge's client certificate

make_tls() {
  [[ -f $TLS_DIR/broker.p12 && -f $TLS_DIR/bridge.pem ]] && return 0
  command -v openssl >/dev/null 2>&1 || die "openssl not found"
  rm -rf -- "$TLS_DIR"
  mkdir -p -- "$TLS_DIR"
  (
    cd -- "$TLS_DIR"
    umask 077
    openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 825 \
      -subj "/CN=video-callback-bridge local CA" -keyout ca.key -out ca.pem \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      2>/dev/null
    sign() { # name CN extensions
      openssl req -new -newkey rsa:2048 -nodes -subj "/CN=$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
      printf '%s\n' "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 -days 825 \
        -extfile "$1.ext" -out "$1.pem" 2>/dev/null
      rm -f -- "$1.csr" "$1.ext"
    }
    sign broker broker "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth,clientAuth"
    sign "$BRIDGE_USER" "$BRIDGE_USER" "extendedKeyUsage=clientAuth"
    openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker \
      -passout "pass:$STORE_PASSWORD" -out broker.p12
    chmod 644 ca.pem
  )
  say "made a CA and certificates in $TLS_DIR"
}

# --------------------------------------------------------------------------
# nodes

running_pid() {
  broker_pid "$(node_dir "$1")"
}

render_config() {
  local node=$1 dir voters="" n
  dir=$(node_dir "$node")
  for n in "${NODES[@]}"; do
    voters+="${voters:+,}$n@127.0.0.1:$(nth "$KAFKA_CLUSTER_CONTROLLER_PORTS" "$n")"
  done
  sed -e "s|@NODE_ID@|$node|g" \
      -e "s|@VOTERS@|$voters|g" \
      -e "s|@TOOLS_PORT@|$(nth "$KAFKA_CLUSTER_TOOLS_PORTS" "$node")|g" \
      -e "s|@SASL_PORT@|$(nth "$KAFKA_CLUSTER_SASL_PORTS" "$node")|g" \
      -e "s|@MTLS_PORT@|$(nth "$KAFKA_CLUSTER_MTLS_PORTS" "$node")|g" \
      -e "s|@OAUTH_PORT@|$(nth "$KAFKA_CLUSTER_OAUTH_PORTS" "$node")|g" \
      -e "s|@PROXIED_PORT@|$(nth "$KAFKA_CLUSTER_PROXIED_PORTS" "$node")|g" \
      -e "s|@PROXY_PORT@|$(nth "$KAFKA_CLUSTER_PROXY_PORTS" "$node")|g" \
      -e "s|@CONTROLLER_PORT@|$(nth "$KAFKA_CLUSTER_CONTROLLER_PORTS" "$node")|g" \
      -e "s|@TLS_DIR@|$TLS_DIR|g" \
      -e "s|@STORE_PASSWORD@|$STORE_PASSWORD|g" \
      -e "s|@DATA_DIR@|$dir/data|g" \
      "$TEMPLATE" >"$dir/server.properties.tmp"
  mv -f -- "$dir/server.properties.tmp" "$dir/server.properties"
}

# Format a node's storage once, with the SCRAM users in its first metadata.
format_node() {
  local node=$1 dir
  dir=$(node_dir "$node")
  [[ -f $dir/data/meta.properties ]] && return 0
  if ! kafka_tool kafka.tools.StorageTool format \
      -t "$(<"$CLUSTER_ID_FILE")" -c "$dir/server.properties" \
      --add-scram "SCRAM-SHA-512=[name=$BRIDGE_USER,password=$BRIDGE_PASSWORD]" \
      --add-scram "SCRAM-SHA-512=[name=admin,password=$ADMIN_PASSWORD]" \
      >"$dir/kafka.out" 2>&1; then
    cat -- "$dir/kafka.out" >&2
    die "formatting node $node failed"
  fi
}

start_node() {
  local node=$1 dir pid p
  dir=$(node_dir "$node")
  for p in "$(nth "$KAFKA_CLUSTER_TOOLS_PORTS" "$node")" "$(nth "$KAFKA_CLUSTER_SASL_PORTS" "$node")" \
      "$(nth "$KAFKA_CLUSTER_MTLS_PORTS" "$node")" "$(nth "$KAFKA_CLUSTER_OAUTH_PORTS" "$node")" \
      "$(nth "$KAFKA_CLUSTER_PROXIED_PORTS" "$node")" "$(nth "$KAFKA_CLUSTER_CONTROLLER_PORTS" "$node")"; do
    port_open "$p" && die "port 127.0.0.1:$p of node $node is in use by another process"
  done
  pid=$(launch_broker "$dir" "$HEAP")
  say "started node $node (pid $pid)"
}

# Stop the given nodes (stop_brokers stops them together).
stop_nodes() {
  local node pid
  local -a running=()
  for node in "$@"; do
    if pid=$(running_pid "$node"); then
      running+=("node $node" "$pid")
    fi
    rm -f -- "$(node_dir "$node")/kafka.pid"
  done
  ((${#running[@]} == 0)) || stop_brokers "$STOP_TIMEOUT" "${running[@]}"
}

# --------------------------------------------------------------------------
# readiness and provisioning, through the plaintext tools listener

write_probe_config() {
  cat >"$DIR/probe.properties" <<EOF
request.timeout.ms=5000
default.api.timeout.ms=10000
socket.connection.setup.timeout.ms=2000
socket.connection.setup.timeout.max.ms=2000
reconnect.backoff.max.ms=500
EOF
}

# The partitions that have fewer in-sync replicas than replicas, one a line; fails when
# the tools listener does not answer.
under_replicated() {
  kafka_tool org.apache.kafka.tools.TopicCommand --describe --under-replicated-partitions \
    --bootstrap-server "$(bootstrap "$KAFKA_CLUSTER_TOOLS_PORTS")" \
    --command-config "$DIR/probe.properties" 2>/dev/null
}

# Every node has started (unfenced, its listeners open: node.sh's await_started, no JVM),
# then every replica is in sync: one TopicCommand, again each second only while a
# restarted node catches up on the partitions it follows.
wait_ready() {
  local deadline=$((SECONDS + START_TIMEOUT)) node dir pid not_ready
  for node in "${NODES[@]}"; do
    dir=$(node_dir "$node")
    if ! pid=$(running_pid "$node"); then
      show_log_tail "$dir"
      die "node $node exited during start-up (see $dir/kafka.log)"
    fi
    if ! not_ready=$(await_started "$dir" "$pid" "$(nth "$KAFKA_CLUSTER_TOOLS_PORTS" "$node")" "$deadline"); then
      show_log_tail "$dir"
      die "node $node not ready: it $not_ready (see $dir/kafka.log)"
    fi
  done
  local lagging
  until lagging=$(under_replicated) && [[ -z $lagging ]]; do
    if ((SECONDS >= deadline)); then
      [[ -n $lagging ]] || die "cluster not ready after ${START_TIMEOUT} s: TopicCommand got no answer on the tools listeners"
      die "cluster not ready after ${START_TIMEOUT} s: $(wc -l <<<"$lagging") partitions under-replicated, as $(head -n 1 <<<"$lagging" | tr -s '[:space:]' ' ')"
    fi
    sleep 1
  done
}

provision() {
  local stamp="$DIR/.provisioned" tools topic
  [[ -f $stamp && $(<"$stamp") == "$(topics)" ]] && return 0
  tools=$(bootstrap "$KAFKA_CLUSTER_TOOLS_PORTS")
  local -a topic_list
  IFS=, read -r -a topic_list <<<"$(topics)"
  # A JVM each, side by side: one after the other, their start-ups add up.
  local -a jobs=()
  for topic in "${topic_list[@]}"; do
    kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$tools" --create --if-not-exists \
      --topic "$topic" --partitions 6 --replication-factor 3 >/dev/null &
    jobs+=($!)
  done
  # What a producer needs: describe and write its topics, write idempotently.
  kafka_tool org.apache.kafka.tools.AclCommand --bootstrap-server "$tools" --add \
    --allow-principal "User:$BRIDGE_USER" --operation Write --operation Describe \
    "${topic_list[@]/#/--topic=}" >/dev/null &
  jobs+=($!)
  kafka_tool org.apache.kafka.tools.AclCommand --bootstrap-server "$tools" --add \
    --allow-principal "User:$BRIDGE_USER" --operation IdempotentWrite --cluster >/dev/null &
  jobs+=($!)
  local job
  for job in "${jobs[@]}"; do
    wait "$job" || die "creating the topics or the ACLs of User:$BRIDGE_USER failed"
  done
  printf '%s\n' "$(topics)" >"$stamp"
  say "created topics $(topics) (RF 3, 6 partitions) and the ACLs of User:$BRIDGE_USER"
}

write_env_files() {
  (
    umask 077
    cat >"$DIR/bridge.env" <<EOF
# The bridge over SASL_SSL (SCRAM-SHA-512) to the local cluster (cluster.sh up).
BRIDGE_KAFKA_BOOTSTRAP_SERVERS=$(bootstrap "$KAFKA_CLUSTER_SASL_PORTS")
BRIDGE_KAFKA_SECURITY_PROTOCOL=SASL_SSL
BRIDGE_KAFKA_SASL_MECHANISM=SCRAM-SHA-512
BRIDGE_KAFKA_SASL_USERNAME=$BRIDGE_USER
BRIDGE_KAFKA_SASL_PASSWORD=$BRIDGE_PASSWORD
BRIDGE_KAFKA_SSL_CAFILE=$TLS_DIR/ca.pem
EOF
    cat >"$DIR/bridge-mtls.env" <<EOF
# The bridge over mutual TLS to the local cluster (cluster.sh up).
BRIDGE_KAFKA_BOOTSTRAP_SERVERS=$(bootstrap "$KAFKA_CLUSTER_MTLS_PORTS")
BRIDGE_KAFKA_SECURITY_PROTOCOL=SSL
BRIDGE_KAFKA_SSL_CAFILE=$TLS_DIR/ca.pem
BRIDGE_KAFKA_SSL_CERTFILE=$TLS_DIR/$BRIDGE_USER.pem
BRIDGE_KAFKA_SSL_KEYFILE=$TLS_DIR/$BRIDGE_USER.key
EOF
    cat >"$DIR/bridge-proxied.env" <<EOF
# The bridge over SASL_SSL (SCRAM-SHA-512) to the local cluster (cluster.sh up), through
# a proxy in front of each broker: toxiproxy-server -config $DIR/toxiproxy.json
BRIDGE_KAFKA_BOOTSTRAP_SERVERS=$(bootstrap "$KAFKA_CLUSTER_PROXY_PORTS")
BRIDGE_KAFKA_SECURITY_PROTOCOL=SASL_SSL
BRIDGE_KAFKA_SASL_MECHANISM=SCRAM-SHA-512
BRIDGE_KAFKA_SASL_USERNAME=$BRIDGE_USER
BRIDGE_KAFKA_SASL_PASSWORD=$BRIDGE_PASSWORD
BRIDGE_KAFKA_SSL_CAFILE=$TLS_DIR/ca.pem
EOF
  )
  write_toxiproxy_config
}

# Toxiproxy's proxies, as its -config file (or the body of POST /populate):
# one per node, from the port its PROXIED listener advertises to that listener.
write_toxiproxy_config() {
  local node separator=""
  {
    printf '['
    for node in "${NODES[@]}"; do
      printf '%s\n  {"name": "kafka-%s", "listen": "127.0.0.1:%s", "upstream": "127.0.0.1:%s", "enabled": true}' \
        "$separator" "$node" "$(nth "$KAFKA_CLUSTER_PROXY_PORTS" "$node")" \
        "$(nth "$KAFKA_CLUSTER_PROXIED_PORTS" "$node")"
      separator=,
    done
    printf '\n]\n'
  } >"$DIR/toxiproxy.json.tmp"
  mv -f -- "$DIR/toxiproxy.json.tmp" "$DIR/toxiproxy.json"
}

# --------------------------------------------------------------------------
# subcommands

cmd_up() {
  paths
  load_ports
  load_secrets
  bash "$SCRIPT_DIR/kafka.sh" fetch
  command -v java >/dev/null 2>&1 || die "java not found; install Java 17+"
  make_tls
  if [[ ! -s $CLUSTER_ID_FILE ]]; then
    kafka_tool kafka.tools.StorageTool random-uuid >"$CLUSTER_ID_FILE"
  fi
  write_probe_config
  local node
  local -a stopped=() formatting=()
  for node in "${NODES[@]}"; do
    running_pid "$node" >/dev/null || stopped+=("$node")
  done
  for node in "${stopped[@]}"; do
    mkdir -p -- "$(node_dir "$node")/data"
    render_config "$node"
    format_node "$node" &  # a JVM each: side by side
    formatting+=($!)
  done
  for node in "${formatting[@]}"; do
    wait "$node" || die "formatting failed"
  done
  for node in "${stopped[@]}"; do
    start_node "$node"
  done
  wait_ready
  provision
  write_env_files
  say "ready: SASL_SSL $(bootstrap "$KAFKA_CLUSTER_SASL_PORTS"), mTLS $(bootstrap "$KAFKA_CLUSTER_MTLS_PORTS"), tools $(bootstrap "$KAFKA_CLUSTER_TOOLS_PORTS"), proxied $(bootstrap "$KAFKA_CLUSTER_PROXY_PORTS"); settings in $DIR/bridge.env"
}

cmd_down() {
  [[ -d $DIR ]] || { say "not running"; return 0; }
  paths
  stop_nodes "${NODES[@]}"
}

cmd_stop() {
  [[ $1 =~ ^[123]$ ]] || die "no node '$1': nodes are 1, 2 and 3"
  [[ -d $DIR ]] || return 0
  paths
  stop_nodes "$1"
}

cmd_status() {
  [[ -d $DIR ]] || { say "not running"; return 3; }
  paths
  local node pid status=0
  for node in "${NODES[@]}"; do
    if pid=$(running_pid "$node"); then
      say "node $node running (pid $pid)"
    else
      say "node $node not running"
      status=3
    fi
  done
  return "$status"
}

cmd_clean() {
  cmd_down
  [[ -d $DIR ]] || return 0
  if [[ ! -f $DIR/ports.env && -n $(ls -A -- "$DIR") ]]; then
    die "$DIR does not look like a cluster dir; not removing it"
  fi
  rm -rf -- "$DIR"
  say "removed $DIR"
}

usage() {
  printf 'usage: %s {up|down|stop NODE|status|clean}\n' "${0##*/}" >&2
  exit 2
}

main() {
  (($# >= 1)) || usage
  case $1 in
    up) (($# == 1)) || usage; cmd_up ;;
    down) (($# == 1)) || usage; cmd_down ;;
    stop) (($# == 2)) || usage; cmd_stop "$2" ;;
    status) (($# == 1)) || usage; cmd_status ;;
    clean) (($# == 1)) || usage; cmd_clean ;;
    *) usage ;;
  esac
}

main "$@"
