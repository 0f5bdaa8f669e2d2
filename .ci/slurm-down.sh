#!/usr/bin/env bash
# Stop the daemons .ci/slurm-up.sh started, by PID (as recorded in its state file), newest first,
# and put back the SLURM config files it replaced (or remove those it created).
# Daemons it did not start are left running. No pkill/killall.
set -uo pipefail
STATE=${SLURM_CI_STATE:-/run/slurm-ci/started}
[ -s "$STATE" ] || { echo "slurm-down.sh: nothing recorded in $STATE"; exit 0; }
stop() {  # $1 = name, $2 = pid
  local name=$1 pid=$2
  # only signal the process if it is still the daemon we started (PIDs can be reused)
  [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$name" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || { echo "stopped $name ($pid)"; return 0; }; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
  echo "killed $name ($pid)"
}
undo() {  # $1 = restore|remove, $2 = config file slurm-up.sh replaced or created
  case $1 in
    restore) [ -e "$2.brainalign-saved" ] && mv -f "$2.brainalign-saved" "$2" && echo "restored $2" ;;
    remove) rm -f "$2" && echo "removed $2" ;;
  esac
}
tac "$STATE" | while read -r name arg; do
  case $name in
    restore | remove) undo "$name" "$arg" ;;
    *) stop "$name" "$arg" ;;
  esac
done
rm -f "$STATE"
