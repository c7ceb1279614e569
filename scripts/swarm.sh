#!/usr/bin/env bash
# A real three-node Docker Swarm on this machine, for the swarm tests.
#
#   scripts/swarm.sh [up]          start what is missing, repair the swarm, put the test image on
#                                  every node, print the nodes
#   scripts/swarm.sh down          stop everything this script started and remove its network
#                                  namespaces (the nodes' data roots stay, see `purge`)
#   scripts/swarm.sh purge         down, then delete the nodes' data roots (images, swarm state)
#   scripts/swarm.sh status        the nodes as the manager sees them
#   scripts/swarm.sh stop-node N [--kill]
#                                  stop node N's dockerd (SIGTERM; --kill: SIGKILL, as a crash);
#                                  its containerd keeps running
#   scripts/swarm.sh start-node N  start node N again and wait until the manager sees it ready
#                                  (rejoins it when it lost its swarm state)
#
# Nodes: node1 (manager), node2 and node3 (workers). Each is Debian's dockerd 20.10 with a
# containerd 1.6 of its own, in a network namespace of its own (cstream-swarm-nodeN, address
# 10.231.0.N/24 on eth0), a UTS namespace (hostname nodeN) and a mount namespace (private
# /run/containerd and /run/docker), with its own config, data root, exec root, pid file, engine
# ID and cgroup parent. Engine API: unix:///run/cstream-swarm/nodeN.sock. The nodes' eth0 are
# veths to a bridge inside one more namespace (cstream-swarm); the swarm's overlay networks take
# subnets from 10.232.0.0/16. Nothing here touches the host's interfaces, iptables, docker0,
# /etc/docker or the other engines of scripts/engines.sh. Tasks use the image on the node:
# cstream-test:latest is copied from Docker 20.10 (docker save | docker load), and every dockerd
# runs with DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1.
#
# Idempotent: `up` on a healthy swarm starts nothing and returns in about a second; after the
# daemons were killed (stale pid files, sockets and namespaces) it starts them again and the
# nodes come back with their swarm state. Runs as root on Debian 12 after scripts/engines.sh up.
#
# Environment (optional): CSTREAM_DOCKER_SOCK (default /var/run/docker.sock), where the test image
# is copied from.
#
# Logs: /var/log/cstream-swarm-nodeN-{dockerd,containerd}.log
set -Eeuo pipefail
trap 'printf "[swarm] ERROR: command failed (exit %s) at line %s: %s\n" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR

NODES=(1 2 3)                         # node 1 is the manager
RUN=/run/cstream-swarm                # sockets, exec roots, containerd state, lock
HOME_DIR=/var/lib/cstream-swarm       # per node: data root, containerd root, configs, engine key
HUB_NS=cstream-swarm                  # the namespace holding the bridge
BRIDGE=swarm0                         # inside HUB_NS
SUBNET_PREFIX=10.231.0                # node N is SUBNET_PREFIX.N/24
ADDR_POOL=10.232.0.0/16               # the swarm's --default-addr-pool
ADDR_POOL_MASK=24
HOST_SOCK=${CSTREAM_DOCKER_SOCK:-/var/run/docker.sock}
IMAGE=cstream-test:latest
START_TIMEOUT=30                      # seconds for a daemon to answer
READY_TIMEOUT=60                      # seconds for the manager to see every node ready
SYS_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf '[swarm] %s\n' "$*" >&2; }
die() { printf '[swarm] ERROR: %s\n' "$*" >&2; exit 1; }

node_ns() { echo "cstream-swarm-node$1"; }
node_sock() { echo "$RUN/node$1.sock"; }
node_run() { echo "$RUN/node$1"; }
node_home() { echo "$HOME_DIR/node$1"; }
node_addr() { echo "$SUBNET_PREFIX.$1"; }
node_dlog() { echo "/var/log/cstream-swarm-node$1-dockerd.log"; }
node_clog() { echo "/var/log/cstream-swarm-node$1-containerd.log"; }
dk() { local n=$1; shift; docker -H "unix://$(node_sock "$n")" "$@"; } # dk N ARGS: docker CLI on node N

# ---------------------------------------------------------------------------------------------
# Processes. No init reaps here: a killed daemon can linger as a zombie, which kill -0 calls alive.
# Our daemons are found by their command lines, which name this script's own paths.

pid_running() { # pid_running PID: PID exists and is no zombie
  local st
  [[ $1 =~ ^[0-9]+$ ]] || return 1
  st=$(awk '/^State:/{print $2}' "/proc/$1/status" 2>/dev/null || true)
  [[ -n $st && $st != [ZX] ]]
}

find_pid() { # find_pid PREFIX: the first running process whose command line starts with PREFIX
  local f pid cmd
  for f in /proc/[0-9]*/cmdline; do
    cmd=$(tr '\0' ' ' 2>/dev/null <"$f") || continue
    [[ $cmd == "$1"* ]] || continue
    pid=${f#/proc/}
    pid=${pid%/cmdline}
    if pid_running "$pid"; then
      echo "$pid"
      return 0
    fi
  done
}

ctrd_prefix() { echo "$CONTAINERD --config $(node_home "$1")/containerd.toml "; } # cmdline prefix
dockerd_prefix() { echo "$DOCKERD -H unix://$(node_sock "$1") "; }
ctrd_pid() { find_pid "$(ctrd_prefix "$1")"; }
dockerd_pid() { find_pid "$(dockerd_prefix "$1")"; }

stop_pid() { # stop_pid NAME PID [SIGNAL]: SIGNAL (default TERM), wait up to 20 s, then SIGKILL
  local name=$1 pid=$2 sig=${3:-TERM} i
  pid_running "$pid" || return 0
  log "stopping $name (pid $pid, SIG$sig)"
  kill "-$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < 80; i++)); do
    pid_running "$pid" || return 0
    sleep 0.25
  done
  log "$name (pid $pid) still runs after 20s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do
    pid_running "$pid" || return 0
    sleep 0.25
  done
  die "$name (pid $pid) survived SIGKILL"
}

# spawn LOG CMD...: start CMD detached (own session, stdin /dev/null), print its pid.
spawn() {
  local logf=$1
  shift
  printf '\n==== %s: started by %s\n' "$(date -Is)" "$0" >>"$logf"
  # 9>&-: the daemon must not inherit (and so hold forever) this script's lock.
  (cd / && exec setsid nohup "$@" </dev/null >>"$logf" 2>&1 9>&-) &
  echo $!
}

fail_with_log() { # fail_with_log LOG MESSAGE
  log "last lines of $1:"
  tail -n 30 "$1" >&2 || true
  die "$2"
}

ping_ok() { # ping_ok SOCK
  [[ -S $1 ]] && [[ $(curl -s --max-time 3 --unix-socket "$1" http://d/_ping 2>/dev/null) == OK ]]
}

netns_inode() { stat -L -c %i "$1" 2>/dev/null || true; } # of /run/netns/NAME or /proc/PID/ns/net

# ---------------------------------------------------------------------------------------------
# Packages: Debian's docker.io (dockerd 20.10, containerd 1.6, runc, the docker CLI) is what
# scripts/engines.sh installs; this script only fills gaps.

DOCKERD=''
CONTAINERD=''

ensure_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v containerd >/dev/null 2>&1 || missing+=(containerd)
  command -v ctr >/dev/null 2>&1 || missing+=(containerd)
  command -v docker >/dev/null 2>&1 || missing+=(docker.io)
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v iptables >/dev/null 2>&1 || missing+=(iptables)
  if ((${#missing[@]})); then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # No service starts: a policy-rc.d that refuses them, for the time of the install only.
    local policy=/usr/sbin/policy-rc.d made=0
    if [[ ! -e $policy ]]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy"
      chmod 0755 "$policy"
      made=1
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if ((made)); then rm -f "$policy"; fi
  fi
  DOCKERD=$(command -v dockerd)
  CONTAINERD=$(command -v containerd)
}

# ---------------------------------------------------------------------------------------------
# Network: HUB_NS holds BRIDGE; node N's namespace holds eth0 (SUBNET_PREFIX.N/24), the peer of
# the veth nodeN in HUB_NS. All links are made inside these namespaces, never in the host's.

ns_ok() { [[ -e /run/netns/$1 ]] && ip -n "$1" link show lo >/dev/null 2>&1; }

ensure_ns() { # ensure_ns NAME
  if ! ns_ok "$1"; then
    ip netns del "$1" >/dev/null 2>&1 || true
    log "creating network namespace $1"
    ip netns add "$1"
  fi
  [[ $(netns_inode "/run/netns/$1") != "$(netns_inode /proc/self/ns/net)" ]] ||
    die "network namespace $1 is the host's"
  ip -n "$1" link set lo up
}

ensure_network() {
  local n ns
  ensure_ns "$HUB_NS"
  if ! ip -n "$HUB_NS" link show dev "$BRIDGE" >/dev/null 2>&1; then
    ip -n "$HUB_NS" link add name "$BRIDGE" type bridge
  fi
  ip -n "$HUB_NS" link set dev "$BRIDGE" up
  for n in "${NODES[@]}"; do
    ns=$(node_ns "$n")
    ensure_ns "$ns"
    if ! ip -n "$HUB_NS" link show dev "node$n" >/dev/null 2>&1; then
      ip -n "$ns" link del eth0 >/dev/null 2>&1 || true
      ip -n "$HUB_NS" link add "node$n" type veth peer name eth0 netns "$ns"
    fi
    ip -n "$HUB_NS" link set dev "node$n" master "$BRIDGE" up
    if ! ip -n "$ns" -4 -o addr show dev eth0 | grep -qF " inet $(node_addr "$n")/24 "; then
      ip -n "$ns" addr add "$(node_addr "$n")/24" dev eth0
    fi
    ip -n "$ns" link set dev eth0 up
  done
}

# ---------------------------------------------------------------------------------------------
# Daemons of node N.

write_if_changed() { # write_if_changed FILE CONTENT
  if [[ ! -f $1 || $(cat "$1") != "$2" ]]; then
    printf '%s\n' "$2" >"$1"
  fi
}

ensure_config() { # ensure_config N
  local h r
  h=$(node_home "$1")
  r=$(node_run "$1")
  mkdir -p "$h" "$r/containerd-run" "$r/docker-run" "$r/cgroup" "$r/exec"
  # deprecated-key-path: the engine ID's key; without it every node reads /etc/docker/key.json.
  write_if_changed "$h/daemon.json" "{
  \"deprecated-key-path\": \"$h/key.json\"
}"
  # Its own containerd: never reads /etc/containerd, no CRI plugin, no /opt/containerd.
  write_if_changed "$h/containerd.toml" "version = 2
root = \"$h/containerd\"
state = \"$r/containerd\"
plugin_dir = \"\"
disabled_plugins = [\"io.containerd.grpc.v1.cri\"]
oom_score = 0

[grpc]
  address = \"$r/containerd.sock\"

[ttrpc]
  address = \"\"

[debug]
  address = \"\"

[metrics]
  address = \"\"

[plugins]
  [plugins.\"io.containerd.internal.v1.opt\"]
    path = \"$h/containerd-opt\""
}

ctrd_ok() { # ctrd_ok N
  local sock
  sock=$(node_run "$1")/containerd.sock
  [[ -S $sock ]] && timeout 5 ctr --address "$sock" version >/dev/null 2>&1
}

# containerd of node N: in the node's network namespace, with new mount and UTS namespaces
# (hostname nodeN; /run/containerd, where shims put their sockets, and /run/docker are private
# bind mounts; a sysfs of the node's network namespace on /sys, so no write meant for a node's
# interface reaches a host's interface of the same name, with the cgroup hierarchies moved over
# from the host's /sys). Its dockerd joins these namespaces. `ip netns exec` is not used: its
# new /sys hides the cgroup v1 hierarchies.
start_containerd() { # start_containerd N: start it unless it runs; no wait
  local n=$1 pid r
  pid=$(ctrd_pid "$n")
  if [[ -n $pid ]]; then
    if [[ $(netns_inode "/proc/$pid/ns/net") == "$(netns_inode "/run/netns/$(node_ns "$n")")" ]]; then
      return 0
    fi
    log "node$n: containerd (pid $pid) is not in $(node_ns "$n"); restarting it"
    stop_pid "node$n dockerd" "$(dockerd_pid "$n")"
    stop_pid "node$n containerd" "$pid"
  fi
  ensure_config "$n"
  r=$(node_run "$n")
  rm -f "$r/containerd.sock"
  mkdir -p /run/containerd /run/docker # mount points (empty folders) in the host
  log "node$n: starting containerd, log $(node_clog "$n")"
  # shellcheck disable=SC2016 # $1.. expand in the inner sh
  spawn "$(node_clog "$n")" nsenter --net="/run/netns/$(node_ns "$n")" -- \
    unshare --mount --uts --propagation slave -- \
    sh -c 'hostname "$1" && mount --bind "$2" /run/containerd && mount --bind "$3" /run/docker &&
      mount --rbind /sys/fs/cgroup "$4" && mount -t sysfs sysfs /sys && mount --move "$4" /sys/fs/cgroup &&
      shift 4 && exec "$@"' sh "node$n" "$r/containerd-run" "$r/docker-run" "$r/cgroup" \
    env PATH="$SYS_PATH" "$CONTAINERD" --config "$(node_home "$n")/containerd.toml" >/dev/null
}

wait_containerd() { # wait_containerd N
  local n=$1 i
  for ((i = 0; i < START_TIMEOUT * 4; i++)); do
    ctrd_ok "$n" && return 0
    sleep 0.25
  done
  fail_with_log "$(node_clog "$n")" "node$n: containerd did not answer within ${START_TIMEOUT}s"
}

start_dockerd() { # start_dockerd N: start it unless its socket answers; no wait
  local n=$1 pid cpid h r ns
  if ping_ok "$(node_sock "$n")" && [[ -n $(dockerd_pid "$n") ]]; then
    return 0
  fi
  pid=$(dockerd_pid "$n")
  if [[ -n $pid ]]; then
    return 0 # starting up; wait_dockerd waits for it
  fi
  cpid=$(ctrd_pid "$n")
  [[ -n $cpid ]] || die "node$n: containerd is not running"
  ns=/run/netns/$(node_ns "$n")
  # A dockerd in the host's network namespace would take the host's docker0: check before.
  if [[ $(netns_inode "/proc/$cpid/ns/net") != "$(netns_inode "$ns")" ||
    $(netns_inode "$ns") == "$(netns_inode /proc/self/ns/net)" ]]; then
    die "node$n: containerd (pid $cpid) is not in the network namespace $ns"
  fi
  h=$(node_home "$n")
  r=$(node_run "$n")
  # dockerd refuses to start while its pid file names a live process (a reused pid).
  rm -f "$r/dockerd.pid" "$(node_sock "$n")"
  log "node$n: starting dockerd (unix://$(node_sock "$n")), log $(node_dlog "$n")"
  spawn "$(node_dlog "$n")" nsenter --target "$cpid" --mount --net --uts -- \
    env PATH="$SYS_PATH" DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 \
    "$DOCKERD" -H "unix://$(node_sock "$n")" \
    --containerd "$r/containerd.sock" \
    --data-root "$h/docker" \
    --exec-root "$r/exec" \
    --pidfile "$r/dockerd.pid" \
    --config-file "$h/daemon.json" \
    --cgroup-parent "/cstream-swarm-node$n" >/dev/null
}

wait_dockerd() { # wait_dockerd N
  local n=$1 i pid
  for ((i = 0; i < START_TIMEOUT * 4; i++)); do
    if ping_ok "$(node_sock "$n")"; then
      pid=$(dockerd_pid "$n")
      [[ -n $pid && $(netns_inode "/proc/$pid/ns/net") == "$(netns_inode "/run/netns/$(node_ns "$n")")" ]] ||
        die "node$n: $(node_sock "$n") answers, but not from a dockerd in $(node_ns "$n")"
      return 0
    fi
    sleep 0.25
  done
  fail_with_log "$(node_dlog "$n")" "node$n: dockerd did not answer on $(node_sock "$n") within ${START_TIMEOUT}s"
}

start_nodes() { # start_nodes N...: containerd and dockerd of each, started side by side
  local n
  ensure_network
  for n in "$@"; do start_containerd "$n"; done
  for n in "$@"; do wait_containerd "$n"; done
  for n in "$@"; do start_dockerd "$n"; done
  for n in "$@"; do wait_dockerd "$n"; done
}

# ---------------------------------------------------------------------------------------------
# Swarm.

local_state() { # local_state N: LocalNodeState NodeID ControlAvailable, as node N sees itself
  dk "$1" info --format '{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}} {{.Swarm.ControlAvailable}}' 2>/dev/null || true
}

# settle N: wait while node N's swarm state is pending (a restarted node reconnecting); print it.
settle() {
  local n=$1 st i
  for ((i = 0; i < 80; i++)); do
    st=$(local_state "$n")
    [[ $st == pending* ]] || break
    sleep 0.25
  done
  echo "$st"
}

# nodes_table: one line per node as the manager sees it: ID HOSTNAME ROLE STATE AVAILABILITY ADDR
nodes_table() {
  local ids
  ids=$(dk 1 node ls -q 2>/dev/null) || return 1
  [[ -n $ids ]] || return 1
  # shellcheck disable=SC2086
  dk 1 node inspect --format \
    '{{.ID}} {{.Description.Hostname}} {{.Spec.Role}} {{.Status.State}} {{.Spec.Availability}} {{.Status.Addr}}' $ids
}

node_role() { if (($1 == 1)); then echo manager; else echo worker; fi; }

# node_ok N TABLE: node N is in a swarm, and the manager (TABLE) lists its node ID with its
# hostname and role, ready and active.
node_ok() {
  local st id
  st=$(local_state "$1")
  [[ $st == active\ * ]] || return 1
  id=$(cut -d' ' -f2 <<<"$st")
  awk -v id="$id" -v h="node$1" -v r="$(node_role "$1")" \
    '$1 == id && $2 == h && $3 == r && $4 == "ready" && $5 == "active" { ok = 1 } END { exit !ok }' <<<"$2"
}

# swarm_complete: the manager lists exactly the nodes, each one ready as itself.
swarm_complete() {
  local table n
  table=$(nodes_table) || return 1
  [[ $(wc -l <<<"$table") == "${#NODES[@]}" ]] || return 1
  for n in "${NODES[@]}"; do
    node_ok "$n" "$table" || return 1
  done
}

wait_complete() { # wait_complete SECONDS
  local i
  for ((i = 0; i < $1 * 2; i++)); do
    swarm_complete && return 0
    sleep 0.5
  done
  return 1
}

ensure_manager() {
  local st
  st=$(settle 1)
  if [[ $st == active\ *\ true ]]; then
    return 0
  fi
  if [[ $st != inactive* ]]; then
    log "node1: swarm state '$st'; leaving it to make a new swarm"
    dk 1 swarm leave --force >/dev/null
  fi
  log "node1: swarm init (advertise $(node_addr 1), address pool $ADDR_POOL)"
  dk 1 swarm init --advertise-addr "$(node_addr 1)" --listen-addr "$(node_addr 1):2377" \
    --default-addr-pool "$ADDR_POOL" --default-addr-pool-mask-length "$ADDR_POOL_MASK" >/dev/null
}

ensure_workers() {
  local n st id token table all ids=''
  for n in "${NODES[@]:1}"; do
    st=$(settle "$n")
    if [[ $st == active\ * ]]; then
      id=$(cut -d' ' -f2 <<<"$st")
      # Known to the manager: a restarted worker takes a few seconds to report ready.
      if nodes_table | awk -v id="$id" '$1 == id { ok = 1 } END { exit !ok }' && wait_node "$n" 20; then
        continue
      fi
      log "node$n: not a ready worker of node1's swarm; leaving its old swarm"
      dk "$n" swarm leave --force >/dev/null || true
    elif [[ $st != inactive* ]]; then
      log "node$n: swarm state '$st'; leaving"
      dk "$n" swarm leave --force >/dev/null || true
    fi
    [[ -n ${token:-} ]] || token=$(dk 1 swarm join-token -q worker)
    log "node$n: joining the swarm as a worker"
    dk "$n" swarm join --token "$token" --advertise-addr "$(node_addr "$n")" \
      --listen-addr "$(node_addr "$n"):2377" "$(node_addr 1):2377" >/dev/null
  done
  # Entries that are no node's current ID (nodes that left, or lost their state): remove them.
  for n in "${NODES[@]}"; do
    ids+=" $(local_state "$n" | cut -d' ' -f2) "
  done
  table=$(nodes_table || true)
  mapfile -t all < <(awk '{print $1}' <<<"$table")
  for id in "${all[@]}"; do
    [[ $ids == *" $id "* ]] && continue
    log "removing the stale node entry $id ($(awk -v id="$id" '$1 == id {print $2, $3, $4}' <<<"$table"))"
    dk 1 node rm --force "$id" >/dev/null || true
  done
}

wait_node() { # wait_node N SECONDS
  local i
  for ((i = 0; i < $2 * 2; i++)); do
    node_ok "$1" "$(nodes_table || true)" && return 0
    sleep 0.5
  done
  return 1
}

ensure_swarm() {
  if swarm_complete; then
    return 0
  fi
  ensure_manager
  ensure_workers
  if ! wait_complete "$READY_TIMEOUT"; then
    log "nodes as node1 sees them:"
    nodes_table >&2 || true
    die "the swarm did not reach three ready nodes within ${READY_TIMEOUT}s"
  fi
}

# ---------------------------------------------------------------------------------------------
# Test image: the same image ID on every node as in Docker 20.10.

image_id() { docker -H "unix://$1" image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true; }

ensure_images() {
  local want n have tar=''
  ping_ok "$HOST_SOCK" || die "Docker 20.10 does not answer on $HOST_SOCK; run scripts/engines.sh up first"
  want=$(image_id "$HOST_SOCK")
  [[ -n $want ]] || die "$IMAGE is not in Docker 20.10 ($HOST_SOCK); run scripts/engines.sh up first"
  for n in "${NODES[@]}"; do
    have=$(image_id "$(node_sock "$n")")
    [[ $have == "$want" ]] && continue
    if [[ -z $tar ]]; then
      tar=$(mktemp /tmp/cstream-swarm-image.XXXXXX)
      docker -H "unix://$HOST_SOCK" save "$IMAGE" >"$tar"
    fi
    log "node$n: loading $IMAGE (${want:7:12})"
    dk "$n" load -q <"$tar" >/dev/null
    [[ $(image_id "$(node_sock "$n")") == "$want" ]] || die "node$n: $IMAGE is not $want after the load"
    if [[ -n $have ]]; then
      dk "$n" image rm "$have" >/dev/null 2>&1 || true # the replaced one, unless in use
    fi
  done
  [[ -z $tar ]] || rm -f "$tar"
}

images_ok() {
  local want n
  want=$(image_id "$HOST_SOCK")
  [[ -n $want ]] || return 1
  for n in "${NODES[@]}"; do
    [[ $(image_id "$(node_sock "$n")") == "$want" ]] || return 1
  done
}

# ---------------------------------------------------------------------------------------------
# Stopping.

# Every process of node N: its daemons, shims and containers (by network namespace and by the
# node's cgroup parent). All of them were started by this script's daemons.
node_leftovers() { # node_leftovers N
  local ns f
  ns=$(node_ns "$1")
  if [[ -e /run/netns/$ns ]]; then ip netns pids "$ns" 2>/dev/null || true; fi
  for f in /sys/fs/cgroup/*/"cstream-swarm-node$1" /sys/fs/cgroup/"cstream-swarm-node$1"; do
    [[ -d $f ]] || continue
    find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null || true
  done
}

stop_node_daemons() { # stop_node_daemons N
  local n=$1 pid i left
  stop_pid "node$n dockerd" "$(dockerd_pid "$n")"
  stop_pid "node$n containerd" "$(ctrd_pid "$n")"
  for ((i = 0; i < 20; i++)); do
    left=$(node_leftovers "$n" | sort -u)
    [[ -n $left ]] || break
    for pid in $left; do
      if pid_running "$pid"; then
        log "node$n: killing leftover pid $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-60))"
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done
    sleep 0.25
    left=$(for pid in $left; do pid_running "$pid" && echo "$pid"; done)
    [[ -n $left ]] || break
  done
  for i in /sys/fs/cgroup/*/"cstream-swarm-node$n" /sys/fs/cgroup/"cstream-swarm-node$n"; do
    if [[ -d $i ]]; then find "$i" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
  done
}

down() {
  local n
  for n in "${NODES[@]}"; do
    stop_node_daemons "$n"
  done
  for n in "${NODES[@]}"; do
    if [[ -e /run/netns/$(node_ns "$n") ]]; then ip netns del "$(node_ns "$n")"; fi
    rm -rf "$(node_run "$n")" "$(node_sock "$n")"
  done
  if [[ -e /run/netns/$HUB_NS ]]; then ip netns del "$HUB_NS"; fi
  log "down: no daemon, namespace or link of the swarm left (data roots kept in $HOME_DIR)"
}

# ---------------------------------------------------------------------------------------------

status() {
  local n table
  for n in "${NODES[@]}"; do
    if ping_ok "$(node_sock "$n")"; then
      printf 'node%s  unix://%s  up    %s\n' "$n" "$(node_sock "$n")" "$(local_state "$n" | cut -d' ' -f1)"
    else
      printf 'node%s  unix://%s  DOWN\n' "$n" "$(node_sock "$n")"
    fi
  done
  if ! table=$(nodes_table); then
    echo "no swarm manager answers on unix://$(node_sock 1)"
    return 1
  fi
  { echo "ID HOSTNAME ROLE STATE AVAILABILITY ADDRESS"; sort -k2 <<<"$table"; } | column -t
}

up() {
  local n answering=1
  for n in "${NODES[@]}"; do
    ping_ok "$(node_sock "$n")" || answering=0
  done
  if ((answering)) && swarm_complete && images_ok; then
    return 0
  fi
  start_nodes "${NODES[@]}"
  ensure_swarm
  ensure_images
}

node_arg() { # node_arg N: N must be a node number
  [[ ${1:-} =~ ^[0-9]+$ && " ${NODES[*]} " == *" $1 "* ]] || die "no node '${1:-}' (nodes: ${NODES[*]})"
}

main() {
  local cmd=${1:-up}
  case $cmd in
    up | down | purge | status | stop-node | start-node) ;;
    -h | --help | help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
      return 0
      ;;
    *) die "unknown command '$cmd' (use up, down, purge, status, stop-node N or start-node N)" ;;
  esac
  [[ $EUID -eq 0 ]] || die "run as root"
  mkdir -p "$RUN"
  exec 9>"$RUN/lock"
  flock -w 600 9 || die "another swarm.sh still holds $RUN/lock after 600s"
  ensure_packages
  case $cmd in
    up)
      up
      status
      ;;
    down) down ;;
    purge)
      down
      rm -rf "$HOME_DIR"
      log "purge: removed $HOME_DIR"
      ;;
    status) status ;;
    stop-node)
      node_arg "${2:-}"
      case ${3:-} in
        '') stop_pid "node$2 dockerd" "$(dockerd_pid "$2")" TERM ;;
        --kill) stop_pid "node$2 dockerd" "$(dockerd_pid "$2")" KILL ;;
        *) die "stop-node N [--kill]: unknown option '$3'" ;;
      esac
      ;;
    start-node)
      node_arg "${2:-}"
      start_nodes "$2"
      ensure_swarm
      ensure_images
      ;;
  esac
}

main "$@"
