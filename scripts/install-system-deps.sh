#!/usr/bin/env bash
# Installs the system packages the tests need when they are missing: redis-server (the Redis
# backend's tests start their own on a free port), Debian's chromium (browser tests), openssl
# (a browser test's HTTPS server makes its certificate with it) and Node.js with npm (the
# widget's build), and a C++ compiler with make, with which npm ci builds better-sqlite3 for the
# load tests' storing reference relay; PostgreSQL's server and psql (the tests make their own
# cluster with initdb, which Debian keeps in /usr/lib/postgresql/NN/bin), nginx and iproute2 (the
# several-hosts test runs hosts as network namespaces behind nginx).
# With the argument "build", only what building and running the server needs (Node.js, npm).
set -euo pipefail
missing=()
if [ "${1:-}" != "build" ]; then
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)  # a test's HTTPS server certificate
  command -v g++ >/dev/null 2>&1 || missing+=(g++)
  command -v make >/dev/null 2>&1 || missing+=(make)
  { command -v initdb || compgen -G "/usr/lib/postgresql/*/bin/initdb"; } >/dev/null 2>&1 || missing+=(postgresql)
  command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
  { command -v nginx || [ -x /usr/sbin/nginx ]; } >/dev/null 2>&1 || missing+=(nginx)
  { command -v ip || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ]; } >/dev/null 2>&1 || missing+=(iproute2)
fi
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)  # builds the widget (make install)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing system packages: ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
