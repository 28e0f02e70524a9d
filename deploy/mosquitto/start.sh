#!/bin/sh
# Generate the broker's password file from the environment, then run Mosquitto in the foreground.
set -eu
: "${MQTT_USERNAME:?set MQTT_USERNAME}" "${MQTT_PASSWORD:?set MQTT_PASSWORD}"
umask 077
rm -f /mosquitto/data/passwd
touch /mosquitto/data/passwd
mosquitto_passwd -b /mosquitto/data/passwd "$MQTT_USERNAME" "$MQTT_PASSWORD"
chown mosquitto:mosquitto /mosquitto/data/passwd 2>/dev/null || true
exec mosquitto -c /mosquitto/config/mosquitto.conf
