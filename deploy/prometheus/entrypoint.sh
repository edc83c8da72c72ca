#!/bin/sh
# Prometheus reads the bearer token for /metrics from a file (authorization.credentials_file).
# The token comes from deploy/.env as METRICS_TOKEN; write it to the container's tmpfs /tmp,
# readable only by Prometheus' own user, and start Prometheus with the given arguments.
set -eu
: "${METRICS_TOKEN:?METRICS_TOKEN is not set}"
umask 077
printf '%s' "$METRICS_TOKEN" > /tmp/metrics_token
unset METRICS_TOKEN
exec /bin/prometheus "$@"
