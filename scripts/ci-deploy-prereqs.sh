#!/usr/bin/env bash
# What the deployment tests (test/deploy) need on a Debian 12 machine, installed when missing:
# nginx (the TLS front, started by the test on 127.0.0.1 only; Debian's own nginx service is
# not started), openssl (the test's self-signed certificate), systemd-analyze (verify of
# deploy/systemd), the PostgreSQL client programs (pg_dump/pg_restore, for backups) and
# promtool (Debian's prometheus package; its service is not started: the alert rules of
# deploy/monitoring are checked and unit-tested).
# .ci/run calls it before the tests; in CI a missing program fails those tests instead of
# skipping them.
set -euo pipefail

missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v pg_dump >/dev/null 2>&1 || missing+=(postgresql-client)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)

if [ "${#missing[@]}" -eq 0 ]; then
  echo "== deploy test prerequisites present (nginx, openssl, systemd-analyze, pg_dump, promtool)"
  exit 0
fi

echo "== installing ${missing[*]} for test/deploy"
export DEBIAN_FRONTEND=noninteractive
# Installing nginx must not start Debian's nginx on port 80: policy-rc.d says no to every
# service start while this runs (and is removed after, unless it was there before).
policy=/usr/sbin/policy-rc.d
own_policy=false
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  own_policy=true
fi
trap '[ "$own_policy" = true ] && rm -f "$policy"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "== installed: ${missing[*]}"
