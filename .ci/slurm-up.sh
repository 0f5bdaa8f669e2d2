#!/usr/bin/env bash
# One-node SLURM on this machine for CI, from Debian 12 packages, without systemd. Run as root.
#
#   .ci/slurm-up.sh      install munge/slurmctld/slurmd/slurm-client if missing, write
#                        /etc/slurm/slurm.conf (+ gres.conf), start munged, slurmctld, slurmd
#   .ci/slurm-down.sh    stop exactly the daemons this script started (by PID)
#
# No accounting database (slurmdbd): `sacct` does not work, so Snakemake's SLURM plugin must poll
# with `squeue` (profiles/slurm-ci sets slurm-status-command: squeue); finished jobs stay visible
# to squeue for MinJobAge=600 s.
# The node advertises one *fake* GPU (gres gpu:1 backed by /dev/null) so that the GPU request of
# profiles/slurm (extract_activations: gpu: 1 -> sbatch --gpus=1) is scheduled as on a real
# cluster; jobs then run on the CPU (torch finds no CUDA device).
#
# What was started is recorded in $STATE (one "name pid" line per daemon); daemons that were
# already running are left alone and not recorded. Idempotent: a second call changes nothing
# while the cluster is up.
set -euo pipefail
STATE=${SLURM_CI_STATE:-/run/slurm-ci/started}
NODE=$(hostname -s)
CPUS=$(nproc)
MEM=$(( $(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo) - 1024 ))  # MB, <= `slurmd -C`
t0=$(date +%s)
log() { echo "[slurm-up +$(( $(date +%s) - t0 ))s] $*"; }
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }  # $1 = pid file
record() { mkdir -p "$(dirname "$STATE")"; echo "$1 $(cat "$2")" >> "$STATE"; }

[ "$(id -u)" = 0 ] || { echo "slurm-up.sh: must run as root" >&2; exit 2; }

# ---- packages ---------------------------------------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
PKGS=(slurmctld slurmd slurm-client munge)
if ! dpkg -s "${PKGS[@]}" >/dev/null 2>&1; then
  # never let package postinst scripts start daemons with the stock config
  policy_created=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
    policy_created=1
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null
  [ "$policy_created" = 0 ] || rm -f /usr/sbin/policy-rc.d
fi
log "packages ready ($(dpkg-query -W -f='${Version}' slurmctld))"
getent hosts "$NODE" >/dev/null || echo "127.0.0.1 $NODE" >> /etc/hosts

# ---- munge ------------------------------------------------------------------------------------
[ -s /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
if ! alive /run/munge/munged.pid; then
  runuser -u munge -- /usr/sbin/munged
  record munged /run/munge/munged.pid
fi
for _ in $(seq 1 40); do munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.25; done
munge -n </dev/null | unmunge >/dev/null
log "munged up"

# ---- SLURM ------------------------------------------------------------------------------------
if alive /run/slurm/slurmctld.pid && alive /run/slurm/slurmd.pid; then
  log "slurmctld and slurmd already running; config left as is"
else
  install -d -o slurm -g slurm /var/spool/slurmctld /var/log/slurm /run/slurm
  install -d /var/spool/slurmd
  # Our config replaces any existing one; slurm-down.sh puts the old one back (or removes ours:
  # a slurm.conf naming a stopped controller makes every `scontrol` call, and so every Snakemake
  # start with the SLURM plugin installed, wait ~9 s for a timeout).
  for f in /etc/slurm/slurm.conf /etc/slurm/gres.conf; do
    if ! grep -qs "^# brainalign slurm-ci" "$f"; then
      mkdir -p "$(dirname "$STATE")"
      if [ -e "$f" ]; then cp -p "$f" "$f.brainalign-saved"; echo "restore $f" >> "$STATE"
      else echo "remove $f" >> "$STATE"; fi
    fi
  done
  cat > /etc/slurm/slurm.conf <<CONF
# brainalign slurm-ci (.ci/slurm-up.sh)
ClusterName=ci
SlurmctldHost=${NODE}
AuthType=auth/munge
CredType=cred/munge
SlurmUser=slurm
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# finished jobs stay visible to squeue for 10 min (the plugin's squeue status mode needs that)
MinJobAge=600
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
GresTypes=gpu
NodeName=${NODE} CPUs=${CPUS} RealMemory=${MEM} Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  # one fake GPU: the device file only has to exist
  printf '# brainalign slurm-ci (.ci/slurm-up.sh)\nNodeName=%s Name=gpu File=/dev/null\n' \
    "$NODE" > /etc/slurm/gres.conf
  if ! alive /run/slurm/slurmctld.pid; then
    /usr/sbin/slurmctld
    for _ in $(seq 1 20); do alive /run/slurm/slurmctld.pid && break; sleep 0.5; done
    record slurmctld /run/slurm/slurmctld.pid
  fi
  if ! alive /run/slurm/slurmd.pid; then
    /usr/sbin/slurmd
    for _ in $(seq 1 20); do alive /run/slurm/slurmd.pid && break; sleep 0.5; done
    record slurmd /run/slurm/slurmd.pid
  fi
fi
for _ in $(seq 1 60); do
  sinfo -h -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)' && break
  sleep 1
done
sinfo -h -o '%t' | grep -qE '^(idle|mix|alloc)' || {
  echo "slurm-up.sh: node did not become idle" >&2; sinfo -N -l >&2 || true
  tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
  exit 1
}
sinfo -N -o '%N %P %T %c %m %G'
log "SLURM ready"
