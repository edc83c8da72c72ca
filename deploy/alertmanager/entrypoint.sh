#!/bin/sh
# Renders the Alertmanager config template from the environment, then starts Alertmanager.
#
# Why: Alertmanager does not expand ${VARS} in its config. Receiver addresses come from
# deploy/.env (docker-compose.yml passes them in); the SMTP password goes to a file for
# `smtp_auth_password_file`, so it is not in the rendered config.
#
# Usage (container):  entrypoint.sh [alertmanager flags...]
# Usage (tests):      TEMPLATE=... OUT_DIR=... entrypoint.sh --render-only
# POSIX sh + sed only: the prom/alertmanager image is busybox-based.
set -eu

TEMPLATE=${TEMPLATE:-/etc/alertmanager/alertmanager.yml.tmpl}
OUT_DIR=${OUT_DIR:-/tmp}
OUT="$OUT_DIR/alertmanager.yml"
VARS="ALERT_EMAIL_TO ALERT_EMAIL_FROM SMTP_SMARTHOST SMTP_USERNAME ALERT_WEBHOOK_URL"

missing=""
for name in $VARS SMTP_PASSWORD; do
  eval "value=\${$name:-}"
  [ -n "$value" ] || missing="$missing $name"
done
if [ -n "$missing" ]; then
  echo "alertmanager: not set:$missing (see deploy/.env.example)" >&2
  exit 1
fi

umask 077
mkdir -p "$OUT_DIR"
printf '%s' "$SMTP_PASSWORD" > "$OUT_DIR/smtp_password"

# Escape a value for a single-quoted YAML scalar ('' for ') and for a sed replacement (\ & |).
escape() {
  printf '%s' "$1" | sed -e "s/'/''/g" -e 's/[\\&|]/\\&/g'
}

script=""
for name in $VARS; do
  eval "value=\${$name}"
  script="${script}s|\\\${$name}|$(escape "$value")|g;"
done
sed -e "$script" "$TEMPLATE" > "$OUT.tmp"
# The smtp_auth_password_file path in the template is fixed; point it at OUT_DIR.
sed -i "s|'/tmp/smtp_password'|'$OUT_DIR/smtp_password'|" "$OUT.tmp"

if grep -v '^[[:space:]]*#' "$OUT.tmp" | grep -n '\${[A-Z_]*}' >&2; then
  echo "alertmanager: unrendered placeholders above" >&2
  exit 1
fi
mv "$OUT.tmp" "$OUT"

if [ "${1:-}" = "--render-only" ]; then
  echo "$OUT"
  exit 0
fi
unset SMTP_PASSWORD
exec /bin/alertmanager --config.file="$OUT" "$@"
