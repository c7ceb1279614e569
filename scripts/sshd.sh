#!/usr/bin/env bash
# Starts an sshd for the ssh:// engine tests, idempotently: on 127.0.0.1:2222 only, with a config,
# host key and client key of its own under /var/lib/cstream-sshd, so that
#
#   ssh -p 2222 root@127.0.0.1 docker system dial-stdio
#
# works without a prompt and reaches this machine's Docker (/var/run/docker.sock; engines.sh
# installs docker.io, which brings the docker CLI). Root's ~/.ssh/config gets one block, between
# marker lines, that applies to 127.0.0.1 port 2222 only: the client key, and a known_hosts file
# holding this sshd's host key. The system's own sshd service is never started.
#
#   scripts/sshd.sh [up]   install openssh-server if missing, make the keys, start sshd
#   scripts/sshd.sh stop   stop the sshd it started
set -Eeuo pipefail
STATE=/var/lib/cstream-sshd
PORT=2222
ADDR=127.0.0.1
CONFIG=$STATE/sshd_config
PIDFILE=$STATE/sshd.pid
LOGFILE=/var/log/cstream-sshd.log
CLIENT_CONFIG=/root/.ssh/config
BEGIN='# cstream-sshd: begin (scripts/sshd.sh)'
END='# cstream-sshd: end'

log() { printf '[sshd] %s\n' "$*" >&2; }
die() { printf '[sshd] ERROR: %s\n' "$*" >&2; exit 1; }

install() {
  local missing=()
  [[ -x /usr/sbin/sshd ]] || missing+=(openssh-server)
  command -v ssh >/dev/null || missing+=(openssh-client)
  command -v ssh-keygen >/dev/null || missing+=(openssh-client)
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]}"
  # The package's scripts would start the system's sshd on port 22: forbid service starts
  # while it installs, unless a policy is there already.
  local policy=/usr/sbin/policy-rc.d added=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    added=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if ((added)); then rm -f "$policy"; fi
}

keys() {
  mkdir -p "$STATE"
  chmod 0700 "$STATE"
  [[ -f $STATE/host_ed25519_key ]] || ssh-keygen -q -t ed25519 -N '' -C cstream-sshd-host -f "$STATE/host_ed25519_key"
  [[ -f $STATE/client_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C cstream-sshd-client -f "$STATE/client_ed25519"
  write_if_changed "$STATE/authorized_keys" "$(cat "$STATE/client_ed25519.pub")"
  write_if_changed "$STATE/known_hosts" "[$ADDR]:$PORT $(cut -d' ' -f1,2 "$STATE/host_ed25519_key.pub")"
  write_if_changed "$CONFIG" "Port $PORT
ListenAddress $ADDR
HostKey $STATE/host_ed25519_key
PidFile $PIDFILE
AuthorizedKeysFile $STATE/authorized_keys
AllowUsers root
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
X11Forwarding no
AllowTcpForwarding no
PrintMotd no
# The remote docker CLI talks to this machine's Docker 20.10, whatever root's docker config says.
SetEnv DOCKER_HOST=unix:///var/run/docker.sock"
}

write_if_changed() { # write_if_changed FILE CONTENT
  if [[ ! -f $1 || $(cat "$1") != "$2" ]]; then
    printf '%s\n' "$2" >"$1"
    chmod 0600 "$1"
  fi
}

client_config() {
  local block
  block="$BEGIN
Match host $ADDR exec \"test %p = $PORT\"
    IdentityFile $STATE/client_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile $STATE/known_hosts
    StrictHostKeyChecking yes
    BatchMode yes
$END"
  mkdir -p /root/.ssh
  chmod 0700 /root/.ssh
  touch "$CLIENT_CONFIG"
  if grep -qxF "$BEGIN" "$CLIENT_CONFIG"; then
    # Replace the block when it differs; leave everything else as it is.
    local current rest
    current=$(awk -v b="$BEGIN" -v e="$END" '$0 == b { f = 1 } f { print } $0 == e { f = 0 }' "$CLIENT_CONFIG")
    [[ $current == "$block" ]] && return 0
    rest=$(awk -v b="$BEGIN" -v e="$END" '$0 == b { f = 1 } !f { print } $0 == e { f = 0 }' "$CLIENT_CONFIG")
    if [[ -n $rest ]]; then printf '%s\n' "$rest" >"$CLIENT_CONFIG"; else : >"$CLIENT_CONFIG"; fi
  fi
  # At the end: a Match line ends whatever block comes before it.
  if [[ -s $CLIENT_CONFIG && -n $(tail -c1 "$CLIENT_CONFIG") ]]; then echo >>"$CLIENT_CONFIG"; fi
  printf '%s\n' "$block" >>"$CLIENT_CONFIG"
  chmod 0600 "$CLIENT_CONFIG"
}

works() { timeout 10 ssh -p "$PORT" "root@$ADDR" true </dev/null >/dev/null 2>&1; }

running() {
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null || true)
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && [[ $(tr '\0' ' ' <"/proc/$pid/cmdline") == *"$CONFIG"* ]]
}

start() {
  local i
  if running; then
    # A config changed since it started: have it read the new one.
    if [[ $CONFIG -nt $PIDFILE ]]; then kill -HUP "$(cat "$PIDFILE")"; sleep 0.5; fi
    works && return 0
    die "sshd (pid $(cat "$PIDFILE")) runs but ssh -p $PORT root@$ADDR fails; see $LOGFILE"
  fi
  mkdir -p /run/sshd # its privilege separation directory
  /usr/sbin/sshd -t -f "$CONFIG" || die "sshd refuses $CONFIG"
  log "starting sshd on $ADDR:$PORT (config $CONFIG, log $LOGFILE)"
  /usr/sbin/sshd -f "$CONFIG" -E "$LOGFILE"
  for ((i = 0; i < 40; i++)); do
    works && return 0
    sleep 0.25
  done
  tail -20 "$LOGFILE" >&2 || true
  die "ssh -p $PORT root@$ADDR does not work"
}

check_docker() {
  local out
  out=$(timeout 20 ssh -p "$PORT" "root@$ADDR" docker version --format '{{.Server.Version}}' </dev/null 2>&1) ||
    die "docker over ssh failed (is scripts/engines.sh up?): $out"
  log "ssh://root@$ADDR:$PORT reaches Docker $out"
}

up() {
  [[ $EUID -eq 0 ]] || die "run as root"
  install
  keys
  client_config
  start
  check_docker
}

stop() {
  if running; then
    kill "$(cat "$PIDFILE")"
    log "stopped sshd"
  fi
  rm -f "$PIDFILE"
}

case ${1:-up} in
  up) up ;;
  stop) stop ;;
  *) die "usage: scripts/sshd.sh [up|stop]" ;;
esac
