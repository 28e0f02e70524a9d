#!/bin/bash
# InfluxDB 2.x first-start initialisation for Vigil (run by the influxdb image's entrypoint from
# /docker-entrypoint-initdb.d after DOCKER_INFLUXDB_INIT_MODE=setup created the org, the bucket
# with its retention, and the admin token; the influx CLI is already configured with that token).
#
# 1. A DBRP mapping, so InfluxQL (Grafana's queries) reads the bucket as database
#    "$VIGIL_INFLUXQL_DATABASE" with retention policy "autogen".
# 2. Two least-privilege tokens, written to $VIGIL_TOKEN_DIR (a volume shared read-only with
#    the services that need them): vigil-rw.token (read/write the bucket: workers, gateway)
#    and grafana-read.token (read the bucket: Grafana). They are random, never in the repo.
set -euo pipefail

ORG="${DOCKER_INFLUXDB_INIT_ORG:?}"
BUCKET="${DOCKER_INFLUXDB_INIT_BUCKET:?}"
DATABASE="${VIGIL_INFLUXQL_DATABASE:-$BUCKET}"
TOKEN_DIR="${VIGIL_TOKEN_DIR:-/var/lib/vigil-tokens}"

bucket_id="${DOCKER_INFLUXDB_INIT_BUCKET_ID:-}"
if [[ -z "$bucket_id" ]]; then
    bucket_id="$(influx bucket list --org "$ORG" --name "$BUCKET" --hide-headers | cut -f1)"
fi
[[ -n "$bucket_id" ]] || { echo "10-vigil.sh: bucket $BUCKET not found" >&2; exit 1; }

if ! influx v1 dbrp list --org "$ORG" --db "$DATABASE" --hide-headers | grep -q .; then
    influx v1 dbrp create --org "$ORG" --bucket-id "$bucket_id" --db "$DATABASE" --rp autogen --default
fi

# influx auth create --json prints the new authorisation; keep only its "token" value.
new_token() {
    influx auth create --org "$ORG" --json "$@" | sed -n 's/^[[:space:]]*"token":[[:space:]]*"\([^"]*\)".*/\1/p'
}

mkdir -p "$TOKEN_DIR"
umask 077
if [[ ! -s "$TOKEN_DIR/vigil-rw.token" ]]; then
    printf '%s' "$(new_token --description "vigil services (read/write $BUCKET)" \
        --read-bucket "$bucket_id" --write-bucket "$bucket_id")" >"$TOKEN_DIR/vigil-rw.token"
fi
if [[ ! -s "$TOKEN_DIR/grafana-read.token" ]]; then
    printf '%s' "$(new_token --description "grafana (read $BUCKET)" --read-bucket "$bucket_id")" \
        >"$TOKEN_DIR/grafana-read.token"
fi
for f in vigil-rw.token grafana-read.token; do
    [[ -s "$TOKEN_DIR/$f" ]] || { echo "10-vigil.sh: could not create $f" >&2; exit 1; }
done
# Readable by the non-root service users of the other containers (the volume is mounted read-only there).
chmod 0644 "$TOKEN_DIR"/*.token
chmod 0755 "$TOKEN_DIR"
echo "10-vigil.sh: DBRP $DATABASE/autogen -> bucket $BUCKET; tokens written to $TOKEN_DIR"
