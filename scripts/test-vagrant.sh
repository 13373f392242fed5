#!/usr/bin/env bash
# scripts/test-vagrant.sh - fleet's VM tier: bring VMS (default 3) Vagrant VMs up once, run
# tests/vagrant against them, destroy them (also when tests fail or the script is interrupted).
#
#   scripts/test-vagrant.sh [pytest args...]     as root, from anywhere; after ./run.sh setup
#
# On a machine that cannot run VMs at all it prints "vagrant tier: skipped: <reason>" and exits 0;
# anywhere else a VM that does not come up is a failure (exit 1). Exit status: pytest's.
# Env: VMS, FLEET_VAGRANT_DIR, FLEET_BOX_CACHE, FLEET_VAGRANT_PROVIDER (see vagrant/README.md);
# KEEP_VMS=1 leaves the VMs running for another round (FLEET_TEST_VAGRANT_INVENTORY=<path> pytest).
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-$PWD/.venv}
FLEET=("$VENV/bin/fleet")
VMS=${VMS:-3}
started=$SECONDS

banner() { printf '\n==== vagrant tier: %s\n' "$*" >&2; }

check_rc=0
reason=$("${FLEET[@]}" lab vagrant check --vms "$VMS" 2>&1) || check_rc=$?
if [[ $check_rc -ne 0 ]]; then
  # only the check's own verdict means "skip"; a broken install is a failure, not a skip
  if [[ $check_rc -eq 1 && $reason == "cannot run VMs: "* ]]; then
    banner "skipped: ${reason#cannot run VMs: }"
    echo "vagrant tier: skipped: ${reason#cannot run VMs: }"
    exit 0
  fi
  banner "FAILED: fleet lab vagrant check exited $check_rc: $reason"
  exit 1
fi

down() {
  if [[ ${KEEP_VMS:-0} == 1 ]]; then banner "KEEP_VMS=1: VMs left running"; return; fi
  banner "destroying the VMs"
  "${FLEET[@]}" lab vagrant down || banner "WARNING: fleet lab vagrant down failed"
  banner "done in $(( SECONDS - started )) s (up, tests and destroy)"
}
trap down EXIT
trap 'exit 130' INT TERM

banner "bringing up $VMS VMs"
if ! inventory=$("${FLEET[@]}" lab vagrant up --vms "$VMS"); then
  banner "FAILED: the VMs did not come up ($(( SECONDS - started )) s)"
  exit 1
fi
up_seconds=$(( SECONDS - started ))

banner "tests against $VMS VMs ($inventory)"
rc=0
FLEET_TEST_VAGRANT_INVENTORY=$inventory "$VENV/bin/pytest" -m vagrant tests/vagrant \
  -p no:cacheprovider -rs --durations=15 --timeout=900 "$@" || rc=$?
tests_seconds=$(( SECONDS - started - up_seconds ))
if [[ $rc -eq 0 ]]; then verdict=passed; else verdict="FAILED (pytest exit $rc)"; fi
banner "$verdict against $VMS VMs: up ${up_seconds} s, tests ${tests_seconds} s, total so far $(( SECONDS - started )) s"
exit $rc
