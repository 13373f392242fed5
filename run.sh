#!/usr/bin/env bash
# run.sh - set up this machine for fleet and run something on the built-in lab.
#
#   ./run.sh demo    install what fleet needs, bring up the 3-host lab, apply
#                    blueprints/demo.yaml and show the cluster status
#   ./run.sh test    install what fleet and its tests need, then run the whole
#                    suite: lint, types, unit tests, lab tests (real sshd, dockerd,
#                    HAProxy in network namespaces), VM tests where VMs can run
#   ./run.sh setup   only install (apt packages as root, .venv with fleet)
#
# Needs root (network namespaces, dockerd) on Debian 12 or Ubuntu. Everything it
# installs is listed in APT_PACKAGES below and in pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
VENV=$ROOT/.venv
APT_PACKAGES=(docker.io openssh-server openssh-client haproxy busybox-static iproute2 iptables
              tmux curl python3-venv ca-certificates)

log() { printf '[run.sh] %s\n' "$*" >&2; }

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "run.sh needs root (network namespaces, dockerd): run it with sudo" >&2
    exit 1
  fi
}

setup_system() {
  local missing=() p
  for p in "${APT_PACKAGES[@]}"; do
    [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

setup_python() {
  local py=${PYTHON:-python3}
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    "$py" -m venv "$VENV"
  fi
  local stamp=$VENV/.fleet-installed
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    log "installing fleet and its test dependencies into $VENV"
    "$VENV/bin/pip" install -q --upgrade pip >/dev/null
    "$VENV/bin/pip" install -q -e ".[test]"
    touch "$stamp"
  fi
  # byte-compile fleet itself: an editable install does not, and where PYTHONDONTWRITEBYTECODE
  # is set every fleet command would compile its ~130 modules again (~50 ms per start)
  "$VENV/bin/python" -m compileall -q fleet >/dev/null
}

cmd_setup() { need_root; setup_system; setup_python; }

cmd_demo() {
  cmd_setup
  local fleet=$VENV/bin/fleet
  "$fleet" lab up
  local inv lb
  inv=$("$fleet" lab inventory)
  "$fleet" apply -i "$inv" --yes blueprints/demo.yaml
  "$fleet" status -i "$inv"
  lb=$(awk '/address:/ {print $2; exit}' "$inv")
  cat >&2 <<EOF

The demo runs on the lab (node1 is its load balancer). Try:
  export FLEET_INVENTORY=$inv PATH=$VENV/bin:\$PATH
  curl http://$lb:8080/                  # web, through HAProxy
  fleet plan blueprints/demo.yaml        # no changes
  fleet ui blueprints/demo.yaml          # the terminal UI
  fleet lab down                         # remove the lab
EOF
}

cmd_test() {
  cmd_setup
  export PATH=$VENV/bin:$PATH
  local started=$SECONDS rc=0
  log "lint: ruff"; ruff check fleet tests bench
  log "types: mypy"; mypy
  log "unit tests"; pytest -q tests/unit
  export FLEET_TEST_LAB=ci
  trap 'log "tearing down lab $FLEET_TEST_LAB"; fleet lab down --name "$FLEET_TEST_LAB" || true' EXIT
  log "lab up ($FLEET_TEST_LAB)"; fleet lab up --name "$FLEET_TEST_LAB" --hosts 3
  log "lab tests"; pytest -q tests/lab || rc=$?
  # the VMs need the CPU more than the lab does now
  fleet lab down --name "$FLEET_TEST_LAB" || true
  log "VM tests"; scripts/test-vagrant.sh || rc=$?
  log "done in $((SECONDS - started)) s"
  return $rc
}

case "${1:-}" in
  demo) cmd_demo ;;
  test) cmd_test ;;
  setup) cmd_setup ;;
  *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 64 ;;
esac
