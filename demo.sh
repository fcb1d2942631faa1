#!/usr/bin/env bash
# One command: build the demo fleet (network namespaces with real sshd + dockerd on
# this machine), audit it, write reports/demo.{json,html,md,xml}, tear the fleet down.
#   sudo ./demo.sh           # as root; installs what it needs on first run
#   sudo ./demo.sh --keep    # leave the fleet up afterwards (python -m lab down .lab/demo)
set -euo pipefail
cd "$(dirname "$0")"
keep=0; [ "${1:-}" = "--keep" ] && keep=1
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (it builds network namespaces)" >&2; exit 2; }

if ! command -v dockerd >/dev/null || ! command -v sshd >/dev/null || [ ! -x .venv/bin/fleetaudit ]; then
  echo "demo.sh: installing dependencies (apt packages, .venv)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends $(grep -v '^#' .ci/apt-packages.txt) >/dev/null
  python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]'
fi

state=.lab/demo
.venv/bin/python -m lab up "$state" --demo
[ "$keep" = 1 ] || trap '.venv/bin/python -m lab down "$state"' EXIT
mkdir -p reports
set +e
.venv/bin/fleetaudit audit -i "$state/inventory.ini" --known-hosts "$state/keys/known_hosts" \
  --json reports/demo.json --html reports/demo.html --markdown reports/demo.md --junit reports/demo.xml
rc=$?
set -e
echo "demo.sh: fleetaudit exited $rc (see README: exit codes); reports in reports/demo.*"
