#!/usr/bin/env bash
# A single-node Apache Kafka (KRaft broker+controller on 127.0.0.1) for tests
# and for people. The jars come from Maven Central through deploy/kafka/pom.xml.
#
#   scripts/kafka.sh fetch BUILD_DIR               jars into BUILD_DIR/kafka/libs (cached)
#   scripts/kafka.sh start STATE_DIR [PORT [PARTS]] fresh broker, topics, prints bootstrap.servers=
#   scripts/kafka.sh topics STATE_DIR PREFIX PARTS  create PREFIX{commands,results,...} (idempotent)
#   scripts/kafka.sh stop STATE_DIR                SIGTERM, wait, then SIGKILL
#   scripts/kafka.sh kill STATE_DIR                SIGKILL at once
#   scripts/kafka.sh restart STATE_DIR             start again on the same data and ports
#   scripts/kafka.sh env STATE_DIR                 prints SR_TEST_KAFKA=127.0.0.1:PORT
#   scripts/kafka.sh run STATE_DIR CMD [ARG...]    runs CMD with SR_TEST_KAFKA set
#   scripts/kafka.sh admin STATE_DIR ARG...        runs SrKafkaAdmin ARG... (its usage)
#
# A cluster of N combined broker+controller nodes (N KRaft voters) in
# STATE_DIR/n1 .. STATE_DIR/nN, each a STATE_DIR of its own for kill, stop
# and restart above (node id I is STATE_DIR/nI):
#   scripts/kafka.sh cluster-start STATE_DIR [NODES [PARTS]]  (3, 12) topics with
#                    replication factor min(NODES, 3), min.insync.replicas 2
#                    (1 on one node), unclean leader election off; prints
#                    bootstrap.servers=HOST:PORT,...
#   scripts/kafka.sh cluster-stop STATE_DIR         every node, SIGTERM then SIGKILL
#   scripts/kafka.sh cluster-leader STATE_DIR TOPIC PARTITION  the leader's node id
#   scripts/kafka.sh cluster-controller STATE_DIR   the active controller's node id
#   scripts/kafka.sh cluster-healthy STATE_DIR [TIMEOUT_S]  waits (120 s) until every
#                    node is registered and every partition's ISR is full
# SR_KAFKA_HEAP for a cluster node defaults to -Xms128m -Xmx384m.
#
# SR_KAFKA_SASL_SSL=DIR (start only) adds a listener SASL_SSL on a free port,
# printed as sasl_ssl.servers=127.0.0.1:PORT, with the mechanisms
# SCRAM-SHA-512 and PLAIN: DIR/broker.p12 is the broker's PKCS12 keystore,
# DIR/broker.p12.pass its password, each line "USER PASSWORD" of
# DIR/scram.users a user of both (SCRAM credentials written at format time).
# (librdkafka before 2.6.1 cannot pass SCRAM on Kafka 4: librdkafka#4895.)
# The PLAINTEXT listener stays (the broker's own replication and this
# script's admin helper use it).
#
# The jars are looked for in $SR_KAFKA_HOME/libs, by default
# $(dirname STATE_DIR)/kafka/libs (build/kafka-state -> build/kafka), and
# fetched there when missing. PORT empty or 0 picks a free port; PARTS (default
# $SR_KAFKA_PARTITIONS or 12) is the partition count of the sr. topics.
#
# SR_KAFKA_PROXY=ADVERTISED_PORT:BIND_PORT adds a listener PROXIED bound on
# 127.0.0.1:BIND_PORT and advertised as 127.0.0.1:ADVERTISED_PORT, for a TCP
# proxy on ADVERTISED_PORT in front of it; restart keeps it.
# SR_KAFKA_HEAP sets the broker's heap options (-Xms256m -Xmx768m).
# SR_KAFKA_WAIT_S bounds the wait for the broker to answer (90).
set -euo pipefail

SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
POM="$SRC_DIR/deploy/kafka/pom.xml"
ADMIN_SRC="$SRC_DIR/deploy/kafka/SrKafkaAdmin.java"
LOG4J="$SRC_DIR/deploy/kafka/log4j2.xml"

die() { echo "kafka.sh: $*" >&2; exit 1; }
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" >&2; exit 2; }

abspath() { mkdir -p "$1" && (cd "$1" && pwd); }

# ---- fetch ----

cmd_fetch() {
        local build kdir pom_sum admin_sum
        build=$(abspath "$1")
        kdir="$build/kafka"
        mkdir -p "$kdir"
        pom_sum=$(sha256sum <"$POM" | cut -d' ' -f1)
        admin_sum=$(sha256sum <"$ADMIN_SRC" | cut -d' ' -f1)
        exec 9>"$kdir/.lock"
        flock 9         # one fetch at a time per build folder
        # the jars: Maven only when missing or the pom changed
        if [[ ! -d "$kdir/libs" || "$(cat "$kdir/libs.sha256" 2>/dev/null)" != "$pom_sum" ]]; then
                echo "kafka.sh: fetching the broker's jars from Maven Central into $kdir/libs" >&2
                rm -rf "$kdir/libs.tmp"
                if ! mvn -q -B -f "$POM" -Dmaven.repo.local="$kdir/m2" \
                        dependency:copy-dependencies -DincludeScope=runtime \
                        -DoutputDirectory="$kdir/libs.tmp" >"$kdir/mvn.log" 2>&1; then
                        tail -n 30 "$kdir/mvn.log" >&2
                        die "mvn dependency:copy-dependencies failed (log: $kdir/mvn.log)"
                fi
                rm -rf "$kdir/libs" "$kdir/classes.sha256"
                mv "$kdir/libs.tmp" "$kdir/libs"
                echo "$pom_sum" >"$kdir/libs.sha256"
        fi
        # the admin helper: compiled when missing or changed
        if [[ ! -f "$kdir/classes/SrKafkaAdmin.class" ||
              "$(cat "$kdir/classes.sha256" 2>/dev/null)" != "$admin_sum" ]]; then
                rm -rf "$kdir/classes"
                mkdir -p "$kdir/classes"
                javac -nowarn -d "$kdir/classes" -cp "$kdir/libs/*" "$ADMIN_SRC" ||
                        die "javac SrKafkaAdmin.java failed"
                echo "$admin_sum" >"$kdir/classes.sha256"
        fi
        exec 9>&-
}

# ---- state helpers ----

kafka_home() {          # STATE_DIR -> the folder holding libs/ and classes/
        if [[ -n "${SR_KAFKA_HOME:-}" ]]; then
                echo "$SR_KAFKA_HOME"
        elif [[ -n "${KHOME:-}" ]]; then       # a cluster node's kafka.env
                echo "$KHOME"
        else
                echo "$(dirname "$1")/kafka"
        fi
}

ensure_fetched() {      # STATE_DIR
        local home
        home=$(kafka_home "$1")
        if [[ -z "${SR_KAFKA_HOME:-}" && -z "${KHOME:-}" ]]; then
                cmd_fetch "$(dirname "$home")"
        elif [[ ! -d "$home/libs" ]]; then
                die "$home/libs missing (SR_KAFKA_HOME): run scripts/kafka.sh fetch first"
        fi
}

free_port() {
        python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

broker_pid() {          # STATE_DIR -> pid of a live broker, or nothing
        local pid
        pid=$(cat "$1/broker.pid" 2>/dev/null) || return 0
        [[ -n "$pid" ]] || return 0
        if kill -0 "$pid" 2>/dev/null &&
           tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka'; then
                echo "$pid"
        fi
}

load_env() {            # STATE_DIR: PORT CPORT PARTS PROXY from kafka.env
        [[ -f "$1/kafka.env" ]] || die "$1/kafka.env missing: no broker was started there"
        # shellcheck disable=SC1091
        . "$1/kafka.env"
}

admin() {               # STATE_DIR args...
        local home
        home=$(kafka_home "$1"); shift
        java -Xmx128m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
                -Dlog4j2.configurationFile="$LOG4J" \
                -Dsr.kafka.log.file="$STATE/admin.log" \
                -cp "$home/classes:$home/libs/*" SrKafkaAdmin "$@"
}

write_properties() {    # STATE_DIR (PORT CPORT PROXY set; NODE VOTERS RF MINISR
                        # for a cluster node, SASLPORT TLSDIR for SASL_SSL)
        local listeners="PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT"
        local advertised="PLAINTEXT://127.0.0.1:$PORT"
        local rf=${RF:-1} minisr=${MINISR:-1}
        if [[ -n "$PROXY" ]]; then
                listeners+=",PROXIED://127.0.0.1:${PROXY#*:}"
                advertised+=",PROXIED://127.0.0.1:${PROXY%%:*}"
        fi
        if [[ -n "${SASLPORT:-}" ]]; then
                listeners+=",SASL_SSL://127.0.0.1:$SASLPORT"
                advertised+=",SASL_SSL://127.0.0.1:$SASLPORT"
        fi
        cat >"$1/server.properties" <<EOF
# written by scripts/kafka.sh start
process.roles=broker,controller
node.id=${NODE:-1}
controller.quorum.voters=${VOTERS:-1@127.0.0.1:$CPORT}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listeners=$listeners
advertised.listeners=$advertised
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,PROXIED:PLAINTEXT,SASL_SSL:SASL_SSL
log.dirs=$1/data
num.partitions=1
auto.create.topics.enable=false
default.replication.factor=$rf
min.insync.replicas=$minisr
unclean.leader.election.enable=false
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$minisr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$minisr
group.initial.rebalance.delay.ms=0
EOF
        if [[ -n "${SASLPORT:-}" ]]; then
                local user pass plain=""
                while read -r user pass; do
                        [[ -z "$user" ]] || plain+=" user_$user=\"$pass\""
                done <"$TLSDIR/scram.users"
                cat >>"$1/server.properties" <<EOF
sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required$plain;
ssl.keystore.type=PKCS12
ssl.keystore.location=$TLSDIR/broker.p12
ssl.keystore.password=$(cat "$TLSDIR/broker.p12.pass")
EOF
        fi
}

format_storage() {      # STATE_DIR CLUSTER_ID [--add-scram CRED]...
        local state=$1 cluster=$2
        shift 2
        if ! java -Xmx256m -XX:TieredStopAtLevel=1 \
                -Dlog4j2.configurationFile="$LOG4J" \
                -Dsr.kafka.log.file="$state/server.log" \
                -cp "$(kafka_home "$state")/libs/*" kafka.tools.StorageTool format \
                -t "$cluster" -c "$state/server.properties" "$@" >>"$state/broker.log" 2>&1; then
                tail -n 20 "$state/broker.log" >&2
                die "kafka.tools.StorageTool format failed"
        fi
}

new_cluster_id() {
        # 16 random bytes, URL-safe base64 without padding (never starting
        # with '-', which the tool would take for an option: Kafka's own
        # Uuid.randomUuid() rejects those too; 1 start in 64 failed)
        local cluster=-
        while [[ "$cluster" == -* ]]; do
                cluster=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
        done
        echo "$cluster"
}

launch() {              # STATE_DIR: start the JVM, wait until it answers
        local state=$1 home pid i deadline
        home=$(kafka_home "$state")
        echo "---- $(date -Is) kafka.sh launch port=$PORT" >>"$state/broker.log"
        # shellcheck disable=SC2086
        setsid java ${HEAP:-${SR_KAFKA_HEAP:--Xms256m -Xmx768m}} -XX:+UseG1GC \
                -Djava.awt.headless=true \
                -Dlog4j2.configurationFile="$LOG4J" \
                -Dsr.kafka.log.file="$state/server.log" \
                -cp "$home/libs/*" kafka.Kafka "$state/server.properties" \
                </dev/null >>"$state/broker.log" 2>&1 &
        pid=$!
        echo "$pid" >"$state/broker.pid"
        deadline=$((SECONDS + ${SR_KAFKA_WAIT_S:-90}))
        # the port first (cheap), then an Admin round trip
        while ! (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do
                if ! kill -0 "$pid" 2>/dev/null; then
                        tail -n 40 "$state/broker.log" "$state/server.log" >&2 || true
                        die "the broker exited during start (logs: $state/broker.log, $state/server.log)"
                fi
                if ((SECONDS >= deadline)); then
                        break
                fi
                sleep 0.2
        done
        i=$((deadline - SECONDS))
        ((i > 5)) || i=5
        if ! admin "$state" wait "127.0.0.1:$PORT" $((i * 1000)); then
                tail -n 40 "$state/broker.log" "$state/server.log" >&2 || true
                kill -KILL "$pid" 2>/dev/null || true
                rm -f "$state/broker.pid"
                die "the broker did not answer within ${SR_KAFKA_WAIT_S:-90} s (logs: $state/broker.log, $state/server.log)"
        fi
}

# ---- subcommands ----

cmd_start() {
        local state port parts cluster
        state=$(abspath "$1"); port=${2:-0}; parts=${3:-${SR_KAFKA_PARTITIONS:-12}}
        STATE=$state
        [[ -z "$(broker_pid "$state")" ]] ||
                die "a broker is already running for $state (pid $(broker_pid "$state")): scripts/kafka.sh stop $state"
        [[ "$parts" =~ ^[0-9]+$ && "$parts" -ge 1 ]] || die "bad partition count: $parts"
        if [[ -n "${SR_KAFKA_PROXY:-}" && ! "$SR_KAFKA_PROXY" =~ ^[0-9]+:[0-9]+$ ]]; then
                die "SR_KAFKA_PROXY must be ADVERTISED_PORT:BIND_PORT, got $SR_KAFKA_PROXY"
        fi
        ensure_fetched "$state"
        rm -rf "$state/data" "$state/broker.log" "$state/server.log" "$state/admin.log"
        [[ "$port" != 0 ]] || port=$(free_port)
        PORT=$port
        CPORT=$(free_port)
        while [[ "$CPORT" == "$PORT" ]]; do CPORT=$(free_port); done
        PARTS=$parts
        PROXY=${SR_KAFKA_PROXY:-}
        SASLPORT= TLSDIR=
        local scram=() user pass
        if [[ -n "${SR_KAFKA_SASL_SSL:-}" ]]; then
                TLSDIR=$(cd "$SR_KAFKA_SASL_SSL" && pwd) ||
                        die "SR_KAFKA_SASL_SSL: no folder $SR_KAFKA_SASL_SSL"
                for f in broker.p12 broker.p12.pass scram.users; do
                        [[ -f "$TLSDIR/$f" ]] || die "SR_KAFKA_SASL_SSL: $TLSDIR/$f missing"
                done
                SASLPORT=$(free_port)
                while read -r user pass; do
                        [[ -z "$user" ]] ||
                                scram+=(--add-scram "SCRAM-SHA-512=[name=$user,password=$pass]")
                done <"$TLSDIR/scram.users"
        fi
        printf 'PORT=%s\nCPORT=%s\nPARTS=%s\nPROXY=%s\nSASLPORT=%s\nTLSDIR=%s\n' \
                "$PORT" "$CPORT" "$PARTS" "$PROXY" "$SASLPORT" "$TLSDIR" >"$state/kafka.env"
        write_properties "$state"
        cluster=$(new_cluster_id)
        format_storage "$state" "$cluster" "${scram[@]}"
        launch "$state"
        admin "$state" topics "127.0.0.1:$PORT" sr. "$PARTS" ||
                die "creating the sr. topics failed"
        echo "bootstrap.servers=127.0.0.1:$PORT"
        [[ -z "$SASLPORT" ]] || echo "sasl_ssl.servers=127.0.0.1:$SASLPORT"
}

# ---- a cluster ----

cluster_load() {        # STATE_DIR: NODES BOOT PARTS from cluster.env
        [[ -f "$1/cluster.env" ]] || die "$1/cluster.env missing: no cluster was started there"
        # shellcheck disable=SC1091
        . "$1/cluster.env"
}

cmd_cluster_start() {
        local state nodes parts i d cluster voters="" boot="" rf minisr pids=() ports=()
        state=$(abspath "$1"); nodes=${2:-3}; parts=${3:-${SR_KAFKA_PARTITIONS:-12}}
        STATE=$state
        [[ "$nodes" =~ ^[0-9]+$ && "$nodes" -ge 1 && "$nodes" -le 9 ]] || die "bad node count: $nodes"
        [[ "$parts" =~ ^[0-9]+$ && "$parts" -ge 1 ]] || die "bad partition count: $parts"
        for d in "$state"/n*; do
                [[ ! -d "$d" || -z "$(broker_pid "$d")" ]] ||
                        die "a node is already running in $d: scripts/kafka.sh cluster-stop $state"
        done
        ensure_fetched "$state"
        rf=$((nodes < 3 ? nodes : 3))
        minisr=$((rf > 1 ? 2 : 1))
        rm -rf "$state"/n* "$state/cluster.env" "$state/admin.log"
        while ((${#ports[@]} < 2 * nodes)); do  # distinct free ports
                i=$(free_port)
                [[ " ${ports[*]} " == *" $i "* ]] || ports+=("$i")
        done
        for ((i = 1; i <= nodes; i++)); do
                voters+="${voters:+,}$i@127.0.0.1:${ports[2 * i - 1]}"
                boot+="${boot:+,}127.0.0.1:${ports[2 * i - 2]}"
        done
        cluster=$(new_cluster_id)
        KHOME=$(kafka_home "$state")    # the nodes' jars: this state's
        for ((i = 1; i <= nodes; i++)); do
                mkdir -p "$state/n$i"
                PORT=${ports[2 * i - 2]} CPORT=${ports[2 * i - 1]} PARTS=$parts PROXY=
                NODE=$i VOTERS=$voters RF=$rf MINISR=$minisr
                printf '%s\n' "PORT=$PORT" "CPORT=$CPORT" "PARTS=$PARTS" "PROXY=" \
                        "NODE=$NODE" "VOTERS=$VOTERS" "RF=$RF" "MINISR=$MINISR" \
                        "HEAP='${SR_KAFKA_HEAP:--Xms128m -Xmx384m}'" \
                        "KHOME=$KHOME" >"$state/n$i/kafka.env"
                write_properties "$state/n$i"
                format_storage "$state/n$i" "$cluster"
        done
        printf 'NODES=%s\nBOOT=%s\nPARTS=%s\n' "$nodes" "$boot" "$parts" >"$state/cluster.env"
        # every node at once: none answers before a quorum of voters is up
        for ((i = 1; i <= nodes; i++)); do
                "$0" restart "$state/n$i" >/dev/null &
                pids+=($!)
        done
        for d in "${pids[@]}"; do
                wait "$d" || { cmd_cluster_stop "$state"; die "a node did not start (logs: $state/n*/broker.log, server.log)"; }
        done
        admin "$state" healthy "$boot" "$nodes" 120000 ||
                { cmd_cluster_stop "$state"; die "the cluster did not become healthy"; }
        admin "$state" topics "$boot" sr. "$parts" "$rf" ||
                { cmd_cluster_stop "$state"; die "creating the sr. topics failed"; }
        # the new partitions led and in sync before anyone is told to start
        admin "$state" healthy "$boot" "$nodes" 120000 ||
                { cmd_cluster_stop "$state"; die "the sr. topics did not become healthy"; }
        echo "bootstrap.servers=$boot"
}

cmd_cluster_stop() {
        local state=$1 d pids=()
        for d in "$state"/n*; do
                [[ -d "$d" ]] || continue
                cmd_stop "$d" &
                pids+=($!)
        done
        for d in "${pids[@]}"; do wait "$d" || true; done
}

cmd_cluster_admin() {   # STATE_DIR SUBCOMMAND [ARG...]: SrKafkaAdmin on BOOT
        local state sub=$2
        state=$(abspath "$1")
        shift 2
        STATE=$state
        cluster_load "$state"
        ensure_fetched "$state"
        admin "$state" "$sub" "$BOOT" "$@"
}

cmd_restart() {
        local state
        state=$(abspath "$1")
        STATE=$state
        load_env "$state"
        [[ -f "$state/server.properties" && -d "$state/data" ]] ||
                die "$state holds no broker data: use start"
        if [[ -n "$(broker_pid "$state")" ]]; then
                cmd_stop "$state"
        fi
        ensure_fetched "$state"
        launch "$state"
        echo "bootstrap.servers=127.0.0.1:$PORT"
}

cmd_stop() {
        local state=$1 pid i
        pid=$(broker_pid "$state")
        if [[ -n "$pid" ]]; then
                kill -TERM "$pid" 2>/dev/null || true
                for ((i = 0; i < 300; i++)); do   # 30 s
                        kill -0 "$pid" 2>/dev/null || break
                        sleep 0.1
                done
                if kill -0 "$pid" 2>/dev/null; then
                        echo "kafka.sh: broker $pid ignored SIGTERM for 30 s: SIGKILL" >&2
                        kill -KILL "$pid" 2>/dev/null || true
                        while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
                fi
        fi
        rm -f "$state/broker.pid"
}

cmd_kill() {
        local state=$1 pid
        pid=$(broker_pid "$state")
        if [[ -n "$pid" ]]; then
                kill -KILL "$pid" 2>/dev/null || true
                while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
        fi
        rm -f "$state/broker.pid"
}

cmd_topics() {
        local state prefix=$2 parts=$3
        state=$(abspath "$1")
        STATE=$state
        load_env "$state"
        [[ "$parts" =~ ^[0-9]+$ && "$parts" -ge 1 ]] || die "bad partition count: $parts"
        [[ -n "$(broker_pid "$state")" ]] || die "no broker running for $state"
        admin "$state" topics "127.0.0.1:$PORT" "$prefix" "$parts"
}

cmd_env() {
        load_env "$1"
        echo "SR_TEST_KAFKA=127.0.0.1:$PORT"
}

cmd_run() {
        local state=$1
        shift
        load_env "$state"
        [[ -n "$(broker_pid "$state")" ]] || die "no broker running for $state"
        export SR_TEST_KAFKA="127.0.0.1:$PORT"
        exec "$@"
}

[[ $# -ge 2 ]] || usage
sub=$1; shift
case "$sub" in
fetch)   [[ $# -eq 1 ]] || usage; cmd_fetch "$1" ;;
start)   [[ $# -ge 1 && $# -le 3 ]] || usage; cmd_start "$@" ;;
restart) [[ $# -eq 1 ]] || usage; cmd_restart "$1" ;;
stop)    [[ $# -eq 1 ]] || usage; cmd_stop "$1" ;;
kill)    [[ $# -eq 1 ]] || usage; cmd_kill "$1" ;;
topics)  [[ $# -eq 3 ]] || usage; cmd_topics "$@" ;;
env)     [[ $# -eq 1 ]] || usage; cmd_env "$1" ;;
run)     [[ $# -ge 2 ]] || usage; cmd_run "$@" ;;
admin)   [[ $# -ge 2 ]] || usage
         STATE=$(abspath "$1"); shift; ensure_fetched "$STATE"; admin "$STATE" "$@" ;;
cluster-start)      [[ $# -ge 1 && $# -le 3 ]] || usage; cmd_cluster_start "$@" ;;
cluster-stop)       [[ $# -eq 1 ]] || usage; cmd_cluster_stop "$1" ;;
cluster-leader)     [[ $# -eq 3 ]] || usage; cmd_cluster_admin "$1" leader "$2" "$3" ;;
cluster-controller) [[ $# -eq 1 ]] || usage; cmd_cluster_admin "$1" controller ;;
cluster-healthy)    [[ $# -ge 1 && $# -le 2 ]] || usage
                    cluster_load "$1"
                    cmd_cluster_admin "$1" healthy "$NODES" $((${2:-120} * 1000)) ;;
*)       usage ;;
esac
