#!/bin/bash
# Create Vigil's Kafka topics (idempotent: existing topics are left as they are).
#
# Runs once in the compose stack (service kafka-init, apache/kafka image) or by hand:
#   KAFKA_BOOTSTRAP=kafka:9092 bash deploy/kafka/create-topics.sh
# Topic names, partitions and replication follow the same VIGIL_TOPICS__* variables (and
# defaults) as vigil/settings.py. Partitions bound parallelism: at most one worker per partition.
set -euo pipefail

BOOTSTRAP="${KAFKA_BOOTSTRAP:-kafka:9092}"
KAFKA_BIN="${KAFKA_BIN:-/opt/kafka/bin}"
PARTITIONS="${VIGIL_TOPICS__PARTITIONS:-6}"
REPLICATION="${VIGIL_TOPICS__REPLICATION_FACTOR:-1}"
DAY_MS=86400000

# name|extra config (comma-separated key=value)
TOPICS=(
    "${VIGIL_TOPICS__RAW:-vigil.readings.raw}|retention.ms=$((7 * DAY_MS))"
    "${VIGIL_TOPICS__READINGS:-vigil.readings}|retention.ms=$((7 * DAY_MS))"
    "${VIGIL_TOPICS__SCORES:-vigil.scores}|retention.ms=$((3 * DAY_MS))"
    "${VIGIL_TOPICS__ALERTS:-vigil.alerts}|retention.ms=$((30 * DAY_MS))"
    "${VIGIL_TOPICS__ACKS:-vigil.alert-acks}|retention.ms=$((30 * DAY_MS))"
    "${VIGIL_TOPICS__DEAD_LETTER:-vigil.dead-letter}|retention.ms=$((30 * DAY_MS))"
    "${VIGIL_TOPICS__PROFILES:-vigil.patient-profiles}|cleanup.policy=compact"
)

for entry in "${TOPICS[@]}"; do
    name="${entry%%|*}"
    config="${entry#*|}"
    args=()
    IFS=',' read -ra pairs <<<"$config"
    for pair in "${pairs[@]}"; do args+=(--config "$pair"); done
    "$KAFKA_BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
        --topic "$name" --partitions "$PARTITIONS" --replication-factor "$REPLICATION" "${args[@]}"
done
echo "create-topics: ${#TOPICS[@]} topics present on $BOOTSTRAP ($PARTITIONS partitions, replication $REPLICATION)"
