#!/usr/bin/env bash
# Local Kafka (KRaft), InfluxDB 1.8 and Mosquitto for Vigil's tests and demos, on loopback only.
#
#   bash scripts/services.sh up|down|restart|status [kafka|influxdb|mosquitto ...]
#
# Data (logs, pid files, storage) lives in ${VIGIL_SERVICES_DIR:-<repo>/.services}; downloads and
# builds are cached in ${VIGIL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil}. See docs/services.md.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVICES_DIR="${VIGIL_SERVICES_DIR:-$REPO_ROOT/.services}"
CACHE_DIR="${VIGIL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil}"
READY_TIMEOUT="${VIGIL_SERVICES_TIMEOUT:-90}"
STOP_TIMEOUT="${VIGIL_SERVICES_STOP_TIMEOUT:-30}"
LOCAL_DIR="$REPO_ROOT/deploy/local"

KAFKA_VERSION="3.9.1"
SCALA_VERSION="2.13"
INFLUXDB_VERSION="1.8.10"
HOST="127.0.0.1"
# The defaults match vigil.settings; override (and set the matching VIGIL_* settings) to run a second set.
KAFKA_PORT="${VIGIL_SERVICES_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${VIGIL_SERVICES_KAFKA_CONTROLLER_PORT:-19093}"
INFLUX_PORT="${VIGIL_SERVICES_INFLUX_PORT:-18086}"
INFLUX_RPC_PORT="${VIGIL_SERVICES_INFLUX_RPC_PORT:-18088}"
MQTT_PORT="${VIGIL_SERVICES_MQTT_PORT:-11883}"
ALL_SERVICES=(kafka influxdb mosquitto)

if [[ -n "${VIGIL_PYTHON:-}" ]]; then
    PYTHON="$VIGIL_PYTHON"
elif [[ -x "$REPO_ROOT/.venv/bin/python" ]]; then
    PYTHON="$REPO_ROOT/.venv/bin/python"
else
    PYTHON="python3"
fi

say() { printf '%s\n' "$*"; }
die() { printf 'services.sh: error: %s\n' "$*" >&2; exit 1; }

# --- addresses, pid files, logs -------------------------------------------------------------------

address_of() {
    case "$1" in
        kafka) echo "$HOST:$KAFKA_PORT" ;;
        influxdb) echo "http://$HOST:$INFLUX_PORT" ;;
        mosquitto) echo "$HOST:$MQTT_PORT" ;;
    esac
}
port_of() {
    case "$1" in
        kafka) echo "$KAFKA_PORT" ;;
        influxdb) echo "$INFLUX_PORT" ;;
        mosquitto) echo "$MQTT_PORT" ;;
    esac
}
probe_name() { [[ "$1" == mosquitto ]] && echo mqtt || echo "$1"; }
pid_file() { echo "$SERVICES_DIR/$1/$1.pid"; }
log_file() { echo "$SERVICES_DIR/$1/$1.log"; }

# The pid recorded by `up`, if that process is still alive and still the service (not a reused pid).
running_pid() {
    local service="$1" file pid
    file="$(pid_file "$service")"
    [[ -f "$file" ]] || return 1
    pid="$(<"$file")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$SERVICES_DIR/$service/" || return 1
    echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

show_log_tail() {
    local log
    log="$(log_file "$1")"
    if [[ -f "$log" ]]; then
        printf -- '--- last 30 lines of %s ---\n' "$log" >&2
        tail -n 30 "$log" >&2
        printf -- '---\n' >&2
    fi
}

# Start "$@" detached (own session, survives the caller), recording its pid before it execs.
launch() {
    local service="$1"
    shift
    local log pidf
    log="$(log_file "$service")"
    pidf="$(pid_file "$service")"
    rm -f "$pidf"
    printf '=== %s started by scripts/services.sh at %s ===\n' "$service" "$(date -u +%FT%TZ)" >>"$log"
    # shellcheck disable=SC2016  # $$ and $@ expand in the child shell
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidf" "$@" >>"$log" 2>&1 </dev/null &
    local waited=0
    until [[ -s "$pidf" ]]; do
        ((waited++ < 100)) || die "$service: did not record its pid in $pidf"
        sleep 0.05
    done
}

wait_ready() {
    local service="$1" pid="$2" started="$3" reason
    if ! reason="$("$PYTHON" "$LOCAL_DIR/probe.py" "$(probe_name "$service")" "$(address_of "$service")" \
        --wait "$READY_TIMEOUT" --pid "$pid" 2>&1)"; then
        say "$service: NOT READY after at most ${READY_TIMEOUT}s: $reason" >&2
        show_log_tail "$service"
        for service in "${STARTING[@]}"; do stop_service "$service" >&2 || true; done
        exit 1
    fi
    say "$service: ready at $(address_of "$service") (pid $pid, $((SECONDS - started))s; log $(log_file "$service"))"
}

refuse_busy_port() {
    local service="$1" port
    port="$(port_of "$service")"
    if port_open "$port"; then
        die "$service: port $HOST:$port is already in use by another process (not started by this script;" \
            "see 'ss -ltnp | grep $port'). Stop it, or run '$0 status'."
    fi
}

# --- Kafka -----------------------------------------------------------------------------------------

kafka_libs() { echo "$CACHE_DIR/kafka-$KAFKA_VERSION/libs"; }

# Sets KAFKA_MODE to "home" (KAFKA_HOME or a downloaded release) or "jars" (Maven Central jars).
ensure_kafka() {
    command -v java >/dev/null || die "kafka: java is not on PATH (install a JRE 17, e.g. 'apt-get install openjdk-17-jre-headless')"
    if [[ -n "${KAFKA_HOME:-}" ]]; then
        [[ -x "$KAFKA_HOME/bin/kafka-server-start.sh" ]] || die "kafka: KAFKA_HOME=$KAFKA_HOME has no bin/kafka-server-start.sh"
        KAFKA_MODE=home
        return
    fi
    local libs
    libs="$(kafka_libs)"
    if [[ -f "$libs/kafka_$SCALA_VERSION-$KAFKA_VERSION.jar" ]]; then
        KAFKA_MODE=jars
        return
    fi
    local release="$CACHE_DIR/kafka_$SCALA_VERSION-$KAFKA_VERSION"
    if [[ -x "$release/bin/kafka-server-start.sh" ]]; then
        KAFKA_HOME="$release" KAFKA_MODE=home
        return
    fi
    if command -v mvn >/dev/null; then
        say "kafka: first run, fetching Kafka $KAFKA_VERSION jars from Maven Central into $libs (cached) ..."
        mkdir -p "$libs"
        mvn -q -B -Dstyle.color=never -f "$LOCAL_DIR/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
            dependency:copy-dependencies -DoutputDirectory="$libs.partial" || die "kafka: mvn could not fetch the jars"
        rm -rf "$libs" && mv "$libs.partial" "$libs"
        KAFKA_MODE=jars
        return
    fi
    command -v curl >/dev/null || die "kafka: neither KAFKA_HOME, mvn nor curl available; see docs/services.md"
    local name="kafka_$SCALA_VERSION-$KAFKA_VERSION.tgz" url
    mkdir -p "$CACHE_DIR"
    for url in "https://downloads.apache.org/kafka/$KAFKA_VERSION/$name" \
        "https://archive.apache.org/dist/kafka/$KAFKA_VERSION/$name"; do
        say "kafka: first run, no mvn: downloading $url (cached) ..."
        if curl -fsSL --retry 3 -o "$release.tgz.partial" "$url"; then
            tar -xzf "$release.tgz.partial" -C "$CACHE_DIR" && rm -f "$release.tgz.partial"
            KAFKA_HOME="$release" KAFKA_MODE=home
            return
        fi
    done
    die "kafka: could not download the Kafka release (offline?); install mvn or set KAFKA_HOME"
}

write_kafka_config() {
    local dir="$1"
    mkdir -p "$dir/data"
    cat >"$dir/server.properties" <<EOF
# Generated by scripts/services.sh - single-node KRaft (broker + controller), loopback only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=3
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=6
group.initial.rebalance.delay.ms=0
log.retention.hours=24
log.segment.bytes=67108864
EOF
    cat >"$dir/log4j.properties" <<'EOF'
# Generated by scripts/services.sh - everything to stdout, which goes to kafka.log.
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=WARN
log4j.logger.org.apache.kafka=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
log4j.logger.kafka.server.ControllerServer=INFO
EOF
}

start_kafka() {
    local dir="$SERVICES_DIR/kafka" cluster_id
    ensure_kafka
    write_kafka_config "$dir"
    local jvm_opts=(-Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
        "-Dlog4j.configuration=file:$dir/log4j.properties" "-Dkafka.logs.dir=$dir")
    if [[ ! -f "$dir/data/meta.properties" ]]; then
        if [[ "$KAFKA_MODE" == home ]]; then
            cluster_id="$("$KAFKA_HOME/bin/kafka-storage.sh" random-uuid)"
            KAFKA_LOG4J_OPTS="-Dlog4j.configuration=file:$dir/log4j.properties" \
                "$KAFKA_HOME/bin/kafka-storage.sh" format -t "$cluster_id" -c "$dir/server.properties" \
                --ignore-formatted >>"$(log_file kafka)" 2>&1
        else
            cluster_id="$(java "${jvm_opts[@]}" -cp "$(kafka_libs)/*" kafka.tools.StorageTool random-uuid)"
            java "${jvm_opts[@]}" -cp "$(kafka_libs)/*" kafka.tools.StorageTool format -t "$cluster_id" \
                -c "$dir/server.properties" --ignore-formatted >>"$(log_file kafka)" 2>&1
        fi || { show_log_tail kafka; die "kafka: formatting storage in $dir/data failed"; }
    fi
    if [[ "$KAFKA_MODE" == home ]]; then
        KAFKA_HEAP_OPTS="-Xms256m -Xmx512m" KAFKA_LOG4J_OPTS="-Dlog4j.configuration=file:$dir/log4j.properties" \
            LOG_DIR="$dir" launch kafka "$KAFKA_HOME/bin/kafka-server-start.sh" "$dir/server.properties"
    else
        launch kafka java "${jvm_opts[@]}" -cp "$(kafka_libs)/*" kafka.Kafka "$dir/server.properties"
    fi
}

# --- InfluxDB --------------------------------------------------------------------------------------

# Prints the path of an influxd 1.8 binary: built once with `go install`, else Debian's package.
ensure_influxd() {
    local bin="$CACHE_DIR/influxdb-$INFLUXDB_VERSION/bin/influxd"
    if [[ -x "$bin" ]]; then
        echo "$bin"
        return
    fi
    if command -v go >/dev/null; then
        say "influxdb: first run, building influxd $INFLUXDB_VERSION with 'go install' into $(dirname "$bin") (~1-2 min, cached) ..." >&2
        local build_log="$CACHE_DIR/influxd-build.log"
        mkdir -p "$CACHE_DIR"
        if GOBIN="$(dirname "$bin")" go install "github.com/influxdata/influxdb/cmd/influxd@v$INFLUXDB_VERSION" \
            >"$build_log" 2>&1; then
            echo "$bin"
            return
        fi
        tail -n 20 "$build_log" >&2
        say "influxdb: go build failed (full log: $build_log); trying Debian's influxdb package" >&2
    fi
    if command -v influxd >/dev/null; then
        command -v influxd
        return
    fi
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        say "influxdb: installing Debian's influxdb package (no Go toolchain) ..." >&2
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq influxdb >&2 \
            && command -v influxd && return
    fi
    die "influxdb: no influxd $INFLUXDB_VERSION: install Go (https://go.dev/dl) or run as root for apt; see docs/services.md"
}

write_influx_config() {
    local dir="$1"
    mkdir -p "$dir/meta" "$dir/data" "$dir/wal"
    cat >"$dir/influxdb.conf" <<EOF
# Generated by scripts/services.sh - InfluxDB $INFLUXDB_VERSION, loopback only, NO authentication.
reporting-disabled = true
bind-address = "$HOST:$INFLUX_RPC_PORT"

[meta]
  dir = "$dir/meta"

[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  query-log-enabled = false
  index-version = "tsi1"

[http]
  enabled = true
  bind-address = "$HOST:$INFLUX_PORT"
  auth-enabled = false
  flux-enabled = true
  log-enabled = false
  write-tracing = false
  pprof-enabled = false

[monitor]
  store-enabled = false

[continuous_queries]
  enabled = false
EOF
}

start_influxdb() {
    local dir="$SERVICES_DIR/influxdb" influxd
    influxd="$(ensure_influxd)"
    write_influx_config "$dir"
    launch influxdb "$influxd" run -config "$dir/influxdb.conf"
}

# --- Mosquitto -------------------------------------------------------------------------------------

ensure_mosquitto() {
    local bin
    bin="$(PATH="$PATH:/usr/sbin:/sbin" command -v mosquitto || true)"
    if [[ -z "$bin" ]]; then
        if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
            say "mosquitto: installing Debian's mosquitto package ..." >&2
            apt-get update -qq >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mosquitto >&2
            bin="$(PATH="$PATH:/usr/sbin:/sbin" command -v mosquitto || true)"
        fi
        [[ -n "$bin" ]] || die "mosquitto: not installed; run 'sudo apt-get install mosquitto' (or brew install mosquitto)"
    fi
    echo "$bin"
}

write_mosquitto_config() {
    local dir="$1"
    mkdir -p "$dir/data"
    cat >"$dir/mosquitto.conf" <<EOF
# Generated by scripts/services.sh - loopback only, anonymous (local development and tests only).
listener $MQTT_PORT $HOST
allow_anonymous true
persistence true
persistence_location $dir/data/
log_dest stdout
log_type error
log_type warning
log_type notice
user $(id -un)
EOF
}

start_mosquitto() {
    local dir="$SERVICES_DIR/mosquitto" bin
    bin="$(ensure_mosquitto)"
    write_mosquitto_config "$dir"
    launch mosquitto "$bin" -c "$dir/mosquitto.conf"
}

# --- commands --------------------------------------------------------------------------------------

# Start the services that are not already running (concurrently), then probe each until it answers.
# On a readiness failure, everything this `up` started is stopped again (wait_ready reads STARTING).
STARTING=()
up() {
    local service pid started=$SECONDS
    for service in "$@"; do
        mkdir -p "$SERVICES_DIR/$service"
        if pid="$(running_pid "$service")"; then
            say "$service: already running (pid $pid) at $(address_of "$service")"
            continue
        fi
        refuse_busy_port "$service"
        "start_$service"
        STARTING+=("$service")
    done
    for service in "${STARTING[@]}"; do
        wait_ready "$service" "$(<"$(pid_file "$service")")" "$started"
    done
}

stop_service() {
    local service="$1" pid deadline
    if ! pid="$(running_pid "$service")"; then
        rm -f "$(pid_file "$service")"
        say "$service: not running"
        return
    fi
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        say "$service: still running ${STOP_TIMEOUT}s after SIGTERM; sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    rm -f "$(pid_file "$service")"
    say "$service: stopped (pid $pid)"
}

status_one() {
    local service="$1" pid answer
    if ! pid="$(running_pid "$service")"; then
        say "$(printf '%-10s %-8s %-24s %s' "$service" "-" "$(address_of "$service")" "not running")"
        return 1
    fi
    if answer="$("$PYTHON" "$LOCAL_DIR/probe.py" "$(probe_name "$service")" "$(address_of "$service")" 2>&1)"; then
        answer="answers"
    else
        answer="NOT ANSWERING: $answer"
    fi
    say "$(printf '%-10s %-8s %-24s %s' "$service" "$pid" "$(address_of "$service")" "$answer")"
    [[ "$answer" == answers ]]
}

usage() {
    local IFS='|'
    cat <<EOF
usage: $0 up|down|restart|status [${ALL_SERVICES[*]}]...
  Kafka $KAFKA_VERSION (KRaft)  $HOST:$KAFKA_PORT
  InfluxDB $INFLUXDB_VERSION        http://$HOST:$INFLUX_PORT (no auth)
  Mosquitto             $HOST:$MQTT_PORT
  data: $SERVICES_DIR   cache: $CACHE_DIR
EOF
}

main() {
    local command="${1:-}"
    [[ -n "$command" ]] || { usage >&2; exit 2; }
    shift
    local services=("$@") service
    ((${#services[@]})) || services=("${ALL_SERVICES[@]}")
    for service in "${services[@]}"; do
        [[ " ${ALL_SERVICES[*]} " == *" $service "* ]] || die "unknown service '$service' (choose from: ${ALL_SERVICES[*]})"
    done
    case "$command" in
        up)
            up "${services[@]}" ;;
        down)
            for service in "${services[@]}"; do stop_service "$service"; done ;;
        restart)
            for service in "${services[@]}"; do stop_service "$service"; done
            up "${services[@]}" ;;
        status)
            local failed=0
            for service in "${services[@]}"; do status_one "$service" || failed=1; done
            return "$failed" ;;
        -h | --help | help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
