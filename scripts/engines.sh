#!/usr/bin/env bash
# Bring up the container engines cstream's tests talk to, and the local test image.
#
#   scripts/engines.sh [up]   install what is missing, start dockerd and the podman API
#                             service if their sockets do not answer, import the image
#                             cstream-test:latest into both, print a summary
#   scripts/engines.sh stop   stop the daemons that this script started
#   scripts/engines.sh status print the summary only
#
# Idempotent: a second `up` installs nothing, starts nothing and imports nothing.
# Runs as root on Debian 12 (a developer's machine or CI); needs no init system.
#
# Environment (all optional):
#   CSTREAM_DOCKER_SOCK   default /var/run/docker.sock
#   CSTREAM_DOCKER_TCP    default 127.0.0.1:2375 (loopback only; empty string: no TCP listener)
#   CSTREAM_PODMAN_SOCK   default /run/podman/podman.sock
#   CSTREAM_ENGINES       default "docker podman" (which engines to bring up)
set -Eeuo pipefail
trap 'printf "[engines] ERROR: command failed (exit %s) at line %s: %s\n" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR

DOCKER_SOCK=${CSTREAM_DOCKER_SOCK:-/var/run/docker.sock}
DOCKER_TCP=${CSTREAM_DOCKER_TCP-127.0.0.1:2375}
PODMAN_SOCK=${CSTREAM_PODMAN_SOCK:-/run/podman/podman.sock}
ENGINES=${CSTREAM_ENGINES:-docker podman}
API=v1.41
IMAGE_REPO=cstream-test
IMAGE_TAG=latest
IMAGE=$IMAGE_REPO:$IMAGE_TAG
IMAGE_LABEL=io.cstream.test-image.rootfs-sha256
DOCKER_LOG=/var/log/cstream-dockerd.log
PODMAN_LOG=/var/log/cstream-podman.log
STATE_DIR=/run/cstream-engines
CONTAINERS_CONF=/etc/containers/containers.conf
START_TIMEOUT=30 # seconds to wait for a daemon's /_ping

# Busybox applets linked into the test image's /bin: all of APPLETS must exist, EXTRA_APPLETS are
# linked when this busybox has them.
APPLETS=(sh echo cat sleep yes head dd env pwd ls seq true false printf kill id wc tr sha256sum
  md5sum stty mkdir rm touch test '[' cut grep sed awk hostname whoami tail od xargs timeout nproc
  ip ifconfig)
EXTRA_APPLETS=(ash '[[' ps uname date sort uniq tee basename dirname readlink chmod chown ln mv cp
  df du find mktemp sync usleep nc wget)

log() { printf '[engines] %s\n' "$*" >&2; }
die() { printf '[engines] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Engine API helpers (curl over the Unix socket; no docker/podman CLI).

# api SOCK METHOD PATH [curl args...]: sets CODE (HTTP status, 000 when none) and BODY.
CODE=''
BODY=''
api() {
  local sock=$1 method=$2 path=$3 tmp
  shift 3
  tmp=$(mktemp)
  CODE=$(curl -sS --max-time 120 --unix-socket "$sock" -X "$method" -o "$tmp" -w '%{http_code}' \
    "$@" "http://d$path") || true
  BODY=$(cat "$tmp")
  rm -f "$tmp"
}

ping_ok() { # ping_ok SOCK: true when the socket answers GET /_ping with OK
  [[ -S $1 ]] || return 1
  [[ $(curl -s --max-time 3 --unix-socket "$1" http://d/_ping 2>/dev/null) == OK ]]
}

wait_ping() { # wait_ping SOCK PID LOG NAME
  local sock=$1 pid=$2 logf=$3 name=$4 i
  for ((i = 0; i < START_TIMEOUT * 4; i++)); do
    ping_ok "$sock" && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) exited during start-up; last lines of $logf:"
      tail -n 40 "$logf" >&2 || true
      die "$name did not start"
    fi
    sleep 0.25
  done
  log "$name did not answer GET /_ping on $sock within ${START_TIMEOUT}s; last lines of $logf:"
  tail -n 40 "$logf" >&2 || true
  die "$name did not come up"
}

json_str() { # json_str KEY: first "KEY":"value" in stdin (flat string fields only); "" if none
  { grep -o "\"$1\":\"[^\"]*\"" || true; } | head -n 1 | sed 's/^"[^"]*":"//; s/"$//'
}

urlencode() {
  local s=$1 out='' c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      [a-zA-Z0-9.~_-]) out+=$c ;;
      *) out+=$(printf '%%%02X' "'$c") ;;
    esac
  done
  printf '%s' "$out"
}

# ---------------------------------------------------------------------------------------------
# Packages

pkg_installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }

ensure_packages() {
  local missing=()
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  pkg_installed busybox-static || missing+=(busybox-static)
  if [[ " $ENGINES " == *" docker "* ]]; then
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  fi
  if [[ " $ENGINES " == *" podman "* ]]; then
    command -v podman >/dev/null 2>&1 || missing+=(podman)
    # catatonit is only a Recommends of podman, but without it HostConfig.Init=true fails at
    # create ("container-init binary not found on the host"); docker.io depends on tini already.
    pkg_installed catatonit || missing+=(catatonit)
  fi
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Rootful podman needs none of its other Recommends (buildah, slirp4netns, uidmap,
  # fuse-overlayfs are for rootless use or extras); docker.io's Recommends are not needed either.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ---------------------------------------------------------------------------------------------
# Podman's rlimit fix: in this sandbox podman's default ulimits fail with
# "error setting rlimit type 7: operation not permitted".

ensure_containers_conf() {
  mkdir -p "$(dirname "$CONTAINERS_CONF")"
  if [[ -f $CONTAINERS_CONF ]] && grep -Eq '^[[:space:]]*default_ulimits[[:space:]]*=' "$CONTAINERS_CONF"; then
    if ! grep -Eq '^[[:space:]]*default_ulimits[[:space:]]*=[[:space:]]*\[[[:space:]]*\]' "$CONTAINERS_CONF"; then
      log "note: $CONTAINERS_CONF sets default_ulimits to something else; leaving it alone"
    fi
    return 0
  fi
  if [[ -f $CONTAINERS_CONF ]] && grep -Eq '^[[:space:]]*\[containers\][[:space:]]*$' "$CONTAINERS_CONF"; then
    log "adding default_ulimits = [] to the [containers] table of $CONTAINERS_CONF"
    sed -i -E '0,/^[[:space:]]*\[containers\][[:space:]]*$/s//&\ndefault_ulimits = []/' "$CONTAINERS_CONF"
  else
    log "adding [containers] default_ulimits = [] to $CONTAINERS_CONF"
    { [[ -s $CONTAINERS_CONF ]] && echo; printf '[containers]\ndefault_ulimits = []\n'; } >>"$CONTAINERS_CONF"
  fi
}

# ---------------------------------------------------------------------------------------------
# Daemons

# spawn NAME LOG CMD...: start CMD detached (own session, stdin /dev/null), remember its pid.
spawn() {
  local name=$1 logf=$2
  shift 2
  mkdir -p "$STATE_DIR"
  printf '\n==== %s: %s started by %s\n' "$(date -Is)" "$name" "$0" >>"$logf"
  # 9>&-: the daemon must not inherit (and so hold forever) this script's lock.
  setsid nohup "$@" </dev/null >>"$logf" 2>&1 9>&- &
  echo $! >"$STATE_DIR/$name.pid"
  echo $!
}

ensure_dockerd() {
  if ping_ok "$DOCKER_SOCK"; then
    return 0
  fi
  command -v dockerd >/dev/null 2>&1 || die "dockerd is not installed"
  # A pid file left by a dockerd that died would stop a new one if its pid was reused.
  if [[ -f /var/run/docker.pid ]]; then
    local old
    old=$(cat /var/run/docker.pid 2>/dev/null || true)
    if [[ -n $old ]] && kill -0 "$old" 2>/dev/null \
      && tr '\0' ' ' <"/proc/$old/cmdline" 2>/dev/null | grep -q dockerd; then
      log "dockerd (pid $old) runs but $DOCKER_SOCK does not answer; waiting for it"
      wait_ping "$DOCKER_SOCK" "$old" "$DOCKER_LOG" dockerd
      return 0
    fi
    rm -f /var/run/docker.pid
  fi
  # dockerd trusts the pid file of the containerd it manages; after dockerd was
  # killed, that pid can be a zombie (no init reaps it here) or gone, and a new
  # dockerd would wait on it forever. Remove such a pid file; stop a live orphan.
  local cpidfile=/var/run/docker/containerd/containerd.pid cpid i
  cpid=$(cat "$cpidfile" 2>/dev/null || true)
  if [[ -n $cpid ]]; then
    if [[ $(awk '/^State:/{print $2}' "/proc/$cpid/status" 2>/dev/null) =~ ^[RSD]$ ]] \
      && tr '\0' ' ' <"/proc/$cpid/cmdline" 2>/dev/null | grep -q containerd; then
      log "stopping the containerd (pid $cpid) left by a dead dockerd"
      kill -TERM "$cpid" 2>/dev/null || true
      for ((i = 0; i < 40; i++)); do
        [[ $(awk '/^State:/{print $2}' "/proc/$cpid/status" 2>/dev/null) =~ ^[RSD]$ ]] || break
        sleep 0.25
      done
    fi
    rm -f "$cpidfile"
  fi
  local hosts=(-H "unix://$DOCKER_SOCK")
  if [[ -n $DOCKER_TCP ]]; then
    case $DOCKER_TCP in
      127.* | localhost:*) hosts+=(-H "tcp://$DOCKER_TCP") ;;
      *) die "CSTREAM_DOCKER_TCP must be a loopback address (got $DOCKER_TCP)" ;;
    esac
  fi
  log "starting dockerd (${hosts[*]}), log $DOCKER_LOG"
  local pid
  pid=$(spawn dockerd "$DOCKER_LOG" dockerd "${hosts[@]}")
  wait_ping "$DOCKER_SOCK" "$pid" "$DOCKER_LOG" dockerd
}

ensure_podman() {
  if ping_ok "$PODMAN_SOCK"; then
    return 0
  fi
  command -v podman >/dev/null 2>&1 || die "podman is not installed"
  local oldpid
  oldpid=$(cat "$STATE_DIR/podman.pid" 2>/dev/null || true)
  if [[ -n $oldpid ]] && kill -0 "$oldpid" 2>/dev/null \
    && tr '\0' ' ' <"/proc/$oldpid/cmdline" 2>/dev/null | grep -q 'podman system service'; then
    log "podman service (pid $oldpid) runs but $PODMAN_SOCK does not answer; waiting for it"
    wait_ping "$PODMAN_SOCK" "$oldpid" "$PODMAN_LOG" "podman service"
    return 0
  fi
  mkdir -p "$(dirname "$PODMAN_SOCK")"
  rm -f "$PODMAN_SOCK" # a stale socket file from a service that died
  log "starting podman system service on unix://$PODMAN_SOCK, log $PODMAN_LOG"
  local pid
  pid=$(spawn podman "$PODMAN_LOG" podman system service --time=0 "unix://$PODMAN_SOCK")
  wait_ping "$PODMAN_SOCK" "$pid" "$PODMAN_LOG" "podman service"
}

stop_daemons() {
  local name pid cmd i
  for name in podman dockerd; do
    # Only the engines asked for (CSTREAM_ENGINES), as `up` does.
    [[ " $ENGINES " == *" ${name%d} "* ]] || continue
    pid=$(cat "$STATE_DIR/$name.pid" 2>/dev/null || true)
    [[ -n $pid ]] || continue
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
    case $name:$cmd in
      dockerd:dockerd* | podman:*"podman system service"*) ;;
      *)
        rm -f "$STATE_DIR/$name.pid"
        continue
        ;;
    esac
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 80; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) still runs after 20s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$STATE_DIR/$name.pid"
  done
}

# ---------------------------------------------------------------------------------------------
# Test image: busybox-static in /bin, root and nobody users, /tmp 1777.

ROOTFS_DIR=''
ROOTFS_TAR=''
ROOTFS_SHA=''

build_rootfs() {
  [[ -n $ROOTFS_TAR ]] && return 0
  local dir a bb have
  bb=$(dpkg -L busybox-static | grep -E '/bin/busybox$' | head -n 1)
  [[ -x $bb ]] || die "busybox-static's busybox binary not found"
  ROOTFS_DIR=$(mktemp -d /tmp/cstream-rootfs.XXXXXX)
  trap 'rm -rf "$ROOTFS_DIR"' EXIT
  dir=$ROOTFS_DIR
  have=" $("$bb" --list | tr '\n' ' ') "
  mkdir -p "$dir/root/bin" "$dir/root/etc" "$dir/root/usr/bin" "$dir/root/root" \
    "$dir/root/tmp" "$dir/root/proc" "$dir/root/sys" "$dir/root/dev"
  cp "$bb" "$dir/root/bin/busybox"
  chmod 0755 "$dir/root/bin/busybox"
  for a in "${APPLETS[@]}"; do
    [[ $have == *" $a "* ]] || die "$bb has no applet '$a'"
    ln -s busybox "$dir/root/bin/$a"
  done
  for a in "${EXTRA_APPLETS[@]}"; do
    if [[ $have == *" $a "* ]]; then
      ln -s busybox "$dir/root/bin/$a"
    fi
  done
  ln -s ../../bin/busybox "$dir/root/usr/bin/env"
  chmod 1777 "$dir/root/tmp"
  chmod 0700 "$dir/root/root"
  cat >"$dir/root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
  cat >"$dir/root/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
  # A deterministic tarball: the same inputs give the same bytes, so its hash names the content.
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    -C "$dir/root" -cf "$dir/rootfs.tar" .
  ROOTFS_TAR=$dir/rootfs.tar
  ROOTFS_SHA=$(sha256sum "$ROOTFS_TAR" | cut -d' ' -f1)
}

# ensure_image ENGINE SOCK
ensure_image() {
  local engine=$1 sock=$2 have old_id=''
  api "$sock" GET "/$API/images/$IMAGE/json"
  build_rootfs
  if [[ $CODE == 200 ]]; then
    have=$(json_str "$IMAGE_LABEL" <<<"$BODY")
    if [[ $have == "$ROOTFS_SHA" ]]; then
      return 0
    fi
    old_id=$(json_str Id <<<"$BODY")
    log "$engine: $IMAGE exists but its rootfs differs (${have:-no label}); importing it again"
  elif [[ $CODE != 404 ]]; then
    die "$engine: GET /images/$IMAGE/json answered $CODE: $BODY"
  fi
  local q="fromSrc=-&repo=$IMAGE_REPO&tag=$IMAGE_TAG" ch
  for ch in 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'CMD ["sh"]' "LABEL $IMAGE_LABEL=$ROOTFS_SHA"; do
    q+="&changes=$(urlencode "$ch")"
  done
  log "$engine: importing $IMAGE through POST /$API/images/create?fromSrc=-"
  api "$sock" POST "/$API/images/create?$q" -H 'Content-Type: application/x-tar' \
    --data-binary "@$ROOTFS_TAR"
  if [[ $CODE != 200 ]] || grep -q '"error' <<<"$BODY"; then
    die "$engine: image import failed ($CODE): $BODY"
  fi
  api "$sock" GET "/$API/images/$IMAGE/json"
  have=$(json_str "$IMAGE_LABEL" <<<"$BODY")
  [[ $CODE == 200 && $have == "$ROOTFS_SHA" ]] ||
    die "$engine: $IMAGE is not there (or lacks its label) after the import ($CODE): $BODY"
  if [[ -n $old_id ]]; then
    # The replaced image is now untagged; remove it unless a container still uses it.
    api "$sock" DELETE "/$API/images/$old_id"
  fi
}

# ---------------------------------------------------------------------------------------------

summary() {
  local v ver apiv tcp=''
  if [[ " $ENGINES " == *" docker "* ]]; then
    if ping_ok "$DOCKER_SOCK"; then
      v=$(curl -s --max-time 5 --unix-socket "$DOCKER_SOCK" http://d/version)
      ver=$(json_str Version <<<"$v")
      apiv=$(json_str ApiVersion <<<"$v")
      if [[ -n $DOCKER_TCP ]] && [[ $(curl -s --max-time 3 "http://$DOCKER_TCP/_ping" 2>/dev/null) == OK ]]; then
        tcp=" tcp://$DOCKER_TCP"
      fi
      printf 'docker  %-8s API %-5s unix://%s%s\n' "$ver" "$apiv" "$DOCKER_SOCK" "$tcp"
    else
      printf 'docker  DOWN (unix://%s does not answer)\n' "$DOCKER_SOCK"
    fi
  fi
  if [[ " $ENGINES " == *" podman "* ]]; then
    if ping_ok "$PODMAN_SOCK"; then
      v=$(curl -s --max-time 5 --unix-socket "$PODMAN_SOCK" http://d/version)
      ver=$(json_str Version <<<"$v")
      apiv=$(json_str ApiVersion <<<"$v")
      printf 'podman  %-8s API %-5s unix://%s\n' "$ver" "$apiv" "$PODMAN_SOCK"
    else
      printf 'podman  DOWN (unix://%s does not answer)\n' "$PODMAN_SOCK"
    fi
  fi
  printf 'image   %s\n' "$IMAGE"
}

main() {
  local cmd=${1:-up}
  case $cmd in
    up | start | stop | status) ;;
    -h | --help | help)
      sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
      return 0
      ;;
    *) die "unknown command '$cmd' (use up, stop or status)" ;;
  esac
  [[ $EUID -eq 0 ]] || die "run as root"
  mkdir -p "$STATE_DIR"
  # One run at a time (a developer's and CI's runs, or two terminals).
  exec 9>"$STATE_DIR/lock"
  flock -w 600 9 || die "another engines.sh still holds $STATE_DIR/lock after 600s"
  case $cmd in
    stop)
      stop_daemons
      return 0
      ;;
    status)
      summary
      return 0
      ;;
  esac
  ensure_packages
  if [[ " $ENGINES " == *" docker "* ]]; then
    ensure_dockerd
    ensure_image docker "$DOCKER_SOCK"
  fi
  if [[ " $ENGINES " == *" podman "* ]]; then
    ensure_containers_conf
    ensure_podman
    ensure_image podman "$PODMAN_SOCK"
  fi
  summary
}

main "$@"
