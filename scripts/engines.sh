#!/usr/bin/env bash
# Bring up the container engines cstream's tests talk to, and the local test image.
#
#   scripts/engines.sh [up]   install what is missing, start the daemons whose sockets do not
#                             answer, import the image cstream-test:latest into each engine,
#                             print a summary
#   scripts/engines.sh stop   stop the daemons that this script started
#   scripts/engines.sh status print the summary only
#
# Engines (CSTREAM_ENGINES, any of):
#   docker          Debian 12's Docker Engine 20.10 (API 1.41; apt-get install docker.io)
#   docker-current  Docker Engine 26 (API 1.45) from Debian trixie, beside 20.10. Installs nothing
#                   into the system: docker.io, containerd and tini are fetched once with a private
#                   apt configuration and unpacked under /var/lib/cstream-docker-current (prefix/,
#                   reused by later runs); runc is bookworm's /usr/sbin/runc. Its own containerd,
#                   data root, runtime dir (/run/cstream-docker-current), cgroup parent, bridge
#                   (cstream-dc0, 10.66.0.1/24), no iptables rules; in the host's network namespace,
#                   so it pulls from the loopback registries of scripts/registry.sh. Its containers
#                   reach the bridge address (and published ports work), not each other nor outside
#                   (Docker 20.10's FORWARD policy drops bridged traffic).
#   podman          Podman 4.3's Docker-compatible API service (API 1.41), on a Unix socket and
#                   on loopback TCP (two `podman system service` processes)
#
# Idempotent: a second `up` installs nothing, downloads nothing, starts nothing, imports nothing.
# Runs as root on Debian 12 (a developer's machine or CI); needs no init system.
#
# Environment (all optional):
#   CSTREAM_ENGINES              default "docker docker-current podman" (which engines to bring up)
#   CSTREAM_DOCKER_SOCK          default /var/run/docker.sock
#   CSTREAM_DOCKER_TCP           default 127.0.0.1:2375 (loopback only; empty string: no TCP listener)
#   CSTREAM_DOCKER_CURRENT_SOCK  default /run/cstream-docker-current.sock
#   CSTREAM_DOCKER_CURRENT_SUITE default trixie (Debian suite to take docker.io etc. from)
#   CSTREAM_PODMAN_SOCK          default /run/podman/podman.sock
#   CSTREAM_PODMAN_TCP           default 127.0.0.1:8080 (loopback only; empty string: no TCP listener)
#
# Logs: /var/log/cstream-{dockerd,dockerd-current,containerd-current,podman,podman-tcp}.log
set -Eeuo pipefail
trap 'printf "[engines] ERROR: command failed (exit %s) at line %s: %s\n" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR

DOCKER_SOCK=${CSTREAM_DOCKER_SOCK:-/var/run/docker.sock}
DOCKER_TCP=${CSTREAM_DOCKER_TCP-127.0.0.1:2375}
DOCKER_CURRENT_SOCK=${CSTREAM_DOCKER_CURRENT_SOCK:-/run/cstream-docker-current.sock}
PODMAN_SOCK=${CSTREAM_PODMAN_SOCK:-/run/podman/podman.sock}
PODMAN_TCP=${CSTREAM_PODMAN_TCP-127.0.0.1:8080}
ENGINES=${CSTREAM_ENGINES:-docker docker-current podman}
KNOWN_ENGINES=(docker docker-current podman)
API=v1.41
IMAGE_REPO=cstream-test
IMAGE_TAG=latest
IMAGE=$IMAGE_REPO:$IMAGE_TAG
IMAGE_LABEL=io.cstream.test-image.rootfs-sha256
DOCKER_LOG=/var/log/cstream-dockerd.log
PODMAN_LOG=/var/log/cstream-podman.log
PODMAN_TCP_LOG=/var/log/cstream-podman-tcp.log
STATE_DIR=/run/cstream-engines
CONTAINERS_CONF=/etc/containers/containers.conf
START_TIMEOUT=30 # seconds to wait for a daemon's /_ping
SYS_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# docker-current: a current Docker Engine from a newer Debian suite, beside Docker 20.10.
CURRENT_SUITE=${CSTREAM_DOCKER_CURRENT_SUITE:-trixie}
CURRENT_PACKAGES=(docker.io containerd tini) # no runc: trixie's needs glibc 2.38
CURRENT_MIN_MAJOR=26                         # dockerd --version must report this or newer
CURRENT_MIN_API=1.44                         # and GET /version an ApiVersion this or newer
CURRENT_HOME=/var/lib/cstream-docker-current # persistent: prefix/, bin/, data/, containerd/
CURRENT_PREFIX=$CURRENT_HOME/prefix          # the unpacked packages (the cache of a download)
CURRENT_BIN=$CURRENT_HOME/bin                # PATH dir: links to exactly the binaries to use
CURRENT_RUN=/run/cstream-docker-current      # runtime: exec root, containerd state and socket
CURRENT_CTRD_SOCK=$CURRENT_RUN/containerd.sock
CURRENT_CTRD_CONF=$CURRENT_HOME/containerd.toml
CURRENT_DAEMON_JSON=$CURRENT_HOME/daemon.json
CURRENT_PIDFILE=$CURRENT_RUN/dockerd.pid
CURRENT_BRIDGE=cstream-dc0                   # its default bridge (never docker0, see below)
CURRENT_BRIDGE_ADDR=10.66.0.1/24
CURRENT_CGROUP=/cstream-docker-current
CURRENT_LOG=/var/log/cstream-dockerd-current.log
CURRENT_CTRD_LOG=/var/log/cstream-containerd-current.log

# Busybox applets linked into the test image's /bin: all of APPLETS must exist, EXTRA_APPLETS are
# linked when this busybox has them.
APPLETS=(sh echo cat sleep yes head dd env pwd ls seq true false printf kill id wc tr sha256sum
  md5sum stty mkdir rm touch test '[' cut grep sed awk hostname whoami tail od xargs timeout nproc
  ip ifconfig)
EXTRA_APPLETS=(ash '[[' ps uname date sort uniq tee basename dirname readlink chmod chown ln mv cp
  df du find mktemp sync usleep nc wget)

log() { printf '[engines] %s\n' "$*" >&2; }
die() { printf '[engines] ERROR: %s\n' "$*" >&2; exit 1; }
has() { [[ " $ENGINES " == *" $1 "* ]]; } # has ENGINE: ENGINE is in CSTREAM_ENGINES

loopback_or_die() { # loopback_or_die VAR VALUE: HOST:PORT on loopback, else fail
  case $2 in
    127.*:* | localhost:* | '[::1]:'*) ;;
    *) die "$1 must be a loopback HOST:PORT (got $2)" ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# Processes. No init reaps here: a killed daemon can linger as a zombie, which kill -0 calls alive.

proc_state() { awk '/^State:/{print $2}' "/proc/$1/status" 2>/dev/null || true; }

pid_running() { # pid_running PID: PID exists and is no zombie
  local st
  [[ $1 =~ ^[0-9]+$ ]] || return 1
  st=$(proc_state "$1")
  [[ -n $st && $st != [ZX] ]]
}

proc_alive() { # proc_alive PID PREFIX: PID runs and its command line starts with PREFIX
  pid_running "$1" || return 1
  local cmd
  cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true)
  [[ $cmd == "$2"* ]]
}

pidfile_alive() { # pidfile_alive PREFIX FILE...: print the first live pid found in FILEs
  local prefix=$1 f pid
  shift
  for f in "$@"; do
    pid=$(cat "$f" 2>/dev/null || true)
    if proc_alive "$pid" "$prefix"; then
      echo "$pid"
      return 0
    fi
  done
}

stop_proc() { # stop_proc NAME PID PREFIX: SIGTERM, wait up to 20s, then SIGKILL
  local name=$1 pid=$2 prefix=$3 i
  proc_alive "$pid" "$prefix" || return 0
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 80; i++)); do
    proc_alive "$pid" "$prefix" || return 0
    sleep 0.25
  done
  log "$name (pid $pid) still runs after 20s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do
    proc_alive "$pid" "$prefix" || return 0
    sleep 0.25
  done
  die "$name (pid $pid) survived SIGKILL"
}

# ---------------------------------------------------------------------------------------------
# Engine API helpers (curl; no docker/podman CLI). A TARGET is a Unix socket path or
# tcp://HOST:PORT.

TARGET_ARGS=()
TARGET_URL=''
to_target() {
  if [[ $1 == tcp://* ]]; then
    TARGET_ARGS=(--noproxy '*')
    TARGET_URL=http://${1#tcp://}
  else
    TARGET_ARGS=(--unix-socket "$1")
    TARGET_URL=http://d
  fi
}

show_target() { if [[ $1 == tcp://* ]]; then echo "$1"; else echo "unix://$1"; fi; }

# api TARGET METHOD PATH [curl args...]: sets CODE (HTTP status, 000 when none) and BODY.
CODE=''
BODY=''
api() {
  local target=$1 method=$2 path=$3 tmp
  shift 3
  to_target "$target"
  tmp=$(mktemp)
  CODE=$(curl -sS --max-time 120 "${TARGET_ARGS[@]}" -X "$method" -o "$tmp" -w '%{http_code}' \
    "$@" "$TARGET_URL$path") || true
  BODY=$(cat "$tmp")
  rm -f "$tmp"
}

ping_ok() { # ping_ok TARGET: true when it answers GET /_ping with OK
  [[ $1 == tcp://* || -S $1 ]] || return 1
  to_target "$1"
  [[ $(curl -s --max-time 3 "${TARGET_ARGS[@]}" "$TARGET_URL/_ping" 2>/dev/null) == OK ]]
}

fail_with_log() { # fail_with_log LOG MESSAGE
  log "last lines of $1:"
  tail -n 40 "$1" >&2 || true
  die "$2"
}

wait_ping() { # wait_ping TARGET PID LOG NAME
  local target=$1 pid=$2 logf=$3 name=$4 i
  for ((i = 0; i < START_TIMEOUT * 4; i++)); do
    ping_ok "$target" && return 0
    if ! pid_running "$pid"; then
      fail_with_log "$logf" "$name (pid $pid) exited during start-up"
    fi
    sleep 0.25
  done
  fail_with_log "$logf" "$name did not answer GET /_ping on $(show_target "$target") within ${START_TIMEOUT}s"
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
  if has docker; then
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  fi
  if has docker || has docker-current; then
    command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  fi
  if has docker-current; then
    # Nothing of Docker 26 itself is installed (see ensure_current_dist); it needs bookworm's
    # runc (docker.io 20.10 brings it) and ip(8).
    if [[ ! -x /usr/sbin/runc && " ${missing[*]} " != *" docker.io "* ]]; then
      missing+=(runc)
    fi
  fi
  if has podman; then
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
  # 9>&-: the daemon must not inherit (and so hold forever) this script's lock. It runs in
  # the state folder, not the caller's: conmon writes a file named `oom` into the Podman
  # service's working directory when a container is killed for lack of memory.
  (cd "$STATE_DIR" && exec setsid nohup "$@" </dev/null >>"$logf" 2>&1 9>&-) &
  echo $! >"$STATE_DIR/$name.pid"
  echo $!
}

ensure_dockerd() {
  if ping_ok "$DOCKER_SOCK"; then
    docker0_intact && return 0
    # Our dockerd's default network lost its interface (deleted by another dockerd, see
    # docker-current below): only a restart makes it again.
    local running
    running=$(pidfile_alive 'dockerd ' "$STATE_DIR/dockerd.pid")
    [[ -n $running ]] || die "dockerd's default bridge docker0 is gone; restart that dockerd (not started by $0)"
    log "dockerd (pid $running) answers but the host's docker0 is gone; restarting dockerd to make it again"
    stop_proc dockerd "$running" 'dockerd '
    rm -f "$STATE_DIR/dockerd.pid"
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
    loopback_or_die CSTREAM_DOCKER_TCP "$DOCKER_TCP"
    hosts+=(-H "tcp://$DOCKER_TCP")
  fi
  log "starting dockerd (${hosts[*]}), log $DOCKER_LOG"
  local pid
  pid=$(spawn dockerd "$DOCKER_LOG" dockerd "${hosts[@]}")
  wait_ping "$DOCKER_SOCK" "$pid" "$DOCKER_LOG" dockerd
}

docker0_intact() { # false when Docker 20.10's default network names a bridge that is gone
  local br
  api "$DOCKER_SOCK" GET "/$API/networks/bridge"
  [[ $CODE == 200 ]] || return 0
  br=$(json_str com.docker.network.bridge.name <<<"$BODY")
  [[ -z $br ]] || ip link show dev "$br" >/dev/null 2>&1
}

ensure_podman() {
  if ping_ok "$PODMAN_SOCK"; then
    return 0
  fi
  command -v podman >/dev/null 2>&1 || die "podman is not installed"
  local oldpid
  oldpid=$(cat "$STATE_DIR/podman.pid" 2>/dev/null || true)
  if proc_alive "$oldpid" 'podman system service --time=0 unix://'; then
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

# A second service process for loopback TCP (one `podman system service` serves one address).
# Both read registries.conf at start: scripts/registry.sh restarts both through `stop` + `up`.
ensure_podman_tcp() {
  [[ -n $PODMAN_TCP ]] || return 0
  loopback_or_die CSTREAM_PODMAN_TCP "$PODMAN_TCP"
  local target=tcp://$PODMAN_TCP oldpid pid
  if ping_ok "$target"; then
    return 0
  fi
  command -v podman >/dev/null 2>&1 || die "podman is not installed"
  oldpid=$(cat "$STATE_DIR/podman-tcp.pid" 2>/dev/null || true)
  if proc_alive "$oldpid" 'podman system service --time=0 tcp://'; then
    log "podman service (pid $oldpid) runs but $target does not answer; waiting for it"
    wait_ping "$target" "$oldpid" "$PODMAN_TCP_LOG" "podman service (tcp)"
    return 0
  fi
  log "starting podman system service on $target, log $PODMAN_TCP_LOG"
  pid=$(spawn podman-tcp "$PODMAN_TCP_LOG" podman system service --time=0 "$target")
  wait_ping "$target" "$pid" "$PODMAN_TCP_LOG" "podman service (tcp)"
}

stop_daemons() {
  # Only the engines asked for (CSTREAM_ENGINES), as `up` does.
  if has podman; then
    stop_proc "podman service (tcp)" "$(cat "$STATE_DIR/podman-tcp.pid" 2>/dev/null || true)" \
      'podman system service --time=0 tcp://'
    stop_proc "podman service" "$(cat "$STATE_DIR/podman.pid" 2>/dev/null || true)" \
      'podman system service --time=0 unix://'
    rm -f "$STATE_DIR/podman-tcp.pid" "$STATE_DIR/podman.pid"
  fi
  if has docker-current; then
    stop_proc "docker-current dockerd" \
      "$(pidfile_alive "$CURRENT_BIN/dockerd " "$STATE_DIR/dockerd-current.pid" "$CURRENT_PIDFILE")" \
      "$CURRENT_BIN/dockerd "
    stop_proc "docker-current containerd" \
      "$(pidfile_alive "$CURRENT_BIN/containerd " "$STATE_DIR/containerd-current.pid")" \
      "$CURRENT_BIN/containerd "
    rm -f "$STATE_DIR/dockerd-current.pid" "$STATE_DIR/containerd-current.pid"
  fi
  if has docker; then
    stop_proc dockerd "$(cat "$STATE_DIR/dockerd.pid" 2>/dev/null || true)" 'dockerd '
    rm -f "$STATE_DIR/dockerd.pid"
  fi
}

# ---------------------------------------------------------------------------------------------
# docker-current: Docker Engine 26 from Debian trixie, beside Docker 20.10, installing nothing.
#
# Trap: moby deletes the interface named docker0, whatever --bridge says, when started with
# --bridge none, and on every restart (stale "bridge" network in its store) when default address
# pools are configured (--default-address-pool or daemon.json default-address-pools); either
# breaks Docker 20.10. So this one gets neither: it runs in the host's network namespace (its pulls
# reach the loopback registries) with a bridge of its own name and subnet, created here, and
# leaves iptables to Docker 20.10 (--iptables=false: it would otherwise rewrite the shared DOCKER
# chains). Its user-defined networks take subnets from moby's default pools that no host route
# covers yet (both daemons skip subnets in use).

SRC_URI=''
SRC_KEYRING=''

# The mirror and keyring of the system's bookworm entry (one-line or deb822 sources).
bookworm_source() {
  local f found=''
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    found=$(awk '$1 == "deb" {
        i = 2; opts = ""
        if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) { opts = opts " " $i; i++ }; opts = opts " " $i; i++ }
        if ($(i + 1) != "bookworm") next
        kr = ""
        if (match(opts, /signed-by=[^] ]+/)) kr = substr(opts, RSTART + 10, RLENGTH - 10)
        print $i, kr; exit
      }' "$f")
    [[ -n $found ]] && break
  done
  if [[ -z $found ]]; then
    for f in /etc/apt/sources.list.d/*.sources; do
      [[ -f $f ]] || continue
      found=$(awk 'BEGIN { RS = ""; FS = "\n" }
        {
          types = uris = suites = kr = enabled = ""
          for (i = 1; i <= NF; i++) {
            if ($i ~ /^[ \t#]/ || index($i, ":") == 0) continue
            k = tolower(substr($i, 1, index($i, ":") - 1)); v = substr($i, index($i, ":") + 1)
            gsub(/^[ \t]+|[ \t]+$/, "", v)
            if (k == "types") types = v; else if (k == "uris") uris = v
            else if (k == "suites") suites = v; else if (k == "signed-by") kr = v
            else if (k == "enabled") enabled = tolower(v)
          }
          if ((" " types " ") ~ / deb / && (" " suites " ") ~ / bookworm / && enabled != "no") {
            split(uris, u, " "); if (kr !~ /^\//) kr = ""; print u[1], kr; exit
          }
        }' "$f")
      [[ -n $found ]] && break
    done
  fi
  read -r SRC_URI SRC_KEYRING <<<"$found" || true
  if [[ -z $SRC_URI ]]; then
    SRC_URI=http://deb.debian.org/debian
    log "docker-current: no bookworm entry in the apt sources; using $SRC_URI"
  fi
  if [[ -z $SRC_KEYRING || ! -r $SRC_KEYRING ]]; then
    SRC_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
  fi
  [[ -r $SRC_KEYRING ]] || die "docker-current: no keyring to verify $CURRENT_SUITE with ($SRC_KEYRING)"
}

# Fetch docker.io, containerd and tini from CURRENT_SUITE with a private apt configuration (own
# sources, lists and cache; no hooks of the system's apt.conf.d) and unpack them into
# CURRENT_PREFIX. Done once: the unpacked prefix is the cache.
ensure_current_dist() {
  local apt=$CURRENT_HOME/apt new=$CURRENT_PREFIX.new deb ver major versions=() f ok=1
  local needed=(usr/sbin/dockerd usr/bin/containerd usr/bin/containerd-shim-runc-v2 usr/bin/ctr usr/bin/tini-static)
  for f in "${needed[@]}"; do
    [[ -x $CURRENT_PREFIX/$f ]] || ok=0
  done
  if ((ok)) && [[ -f $CURRENT_PREFIX/.cstream-packages ]]; then
    ensure_current_bin
    return 0
  fi
  bookworm_source
  rm -rf "$apt" "$new"
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs" "$new"
  if id _apt >/dev/null 2>&1; then # apt downloads as _apt where it can write
    chown _apt "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs"
  fi
  printf 'deb [signed-by=%s] %s %s main\n' "$SRC_KEYRING" "$SRC_URI" "$CURRENT_SUITE" >"$apt/sources.list"
  cat >"$apt/apt.conf" <<EOC
Dir::Etc::SourceList "$apt/sources.list";
Dir::Etc::SourceParts "/dev/null";
Dir::Etc::Preferences "/dev/null";
Dir::Etc::PreferencesParts "/dev/null";
Dir::State::Lists "$apt/lists";
Dir::Cache "$apt/cache";
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
#clear DPkg::Pre-Invoke;
#clear DPkg::Post-Invoke;
#clear Acquire::IndexTargets::deb::DEP-11;
#clear Acquire::IndexTargets::deb::DEP-11-icons-small;
#clear Acquire::IndexTargets::deb::DEP-11-icons;
#clear Acquire::IndexTargets::deb::DEP-11-icons-hidpi;
#clear Acquire::IndexTargets::deb::DEP-11-icons-large;
EOC
  log "docker-current: downloading ${CURRENT_PACKAGES[*]} from $SRC_URI $CURRENT_SUITE (private apt lists in $apt; nothing is installed)"
  if ! apt-get -c "$apt/apt.conf" -q update >"$apt/apt.log" 2>&1 \
    || ! (cd "$apt/debs" && apt-get -c "$apt/apt.conf" -q download "${CURRENT_PACKAGES[@]}") >>"$apt/apt.log" 2>&1; then
    fail_with_log "$apt/apt.log" "docker-current: apt-get could not fetch ${CURRENT_PACKAGES[*]} from $CURRENT_SUITE"
  fi
  for deb in "$apt"/debs/*.deb; do
    dpkg-deb -x "$deb" "$new"
    versions+=("$(dpkg-deb -f "$deb" Package)=$(dpkg-deb -f "$deb" Version)")
  done
  for f in "${needed[@]}"; do
    [[ -x $new/$f ]] || die "docker-current: $f is not in the packages from $CURRENT_SUITE (${versions[*]})"
  done
  ver=$("$new/usr/sbin/dockerd" --version 2>&1) || die "docker-current: $CURRENT_SUITE's dockerd does not run here: $ver"
  major=$(sed -nE 's/^Docker version ([0-9]+)\..*/\1/p' <<<"$ver")
  if [[ -z $major ]] || ((major < CURRENT_MIN_MAJOR)); then
    die "docker-current: $CURRENT_SUITE's dockerd reports '$ver'; need $CURRENT_MIN_MAJOR.x or newer"
  fi
  "$new/usr/bin/containerd" --version >/dev/null 2>&1 || die "docker-current: $CURRENT_SUITE's containerd does not run here"
  printf '%s\n' "${versions[@]}" "$ver" >"$new/.cstream-packages"
  rm -rf "$CURRENT_PREFIX"
  mv "$new" "$CURRENT_PREFIX"
  rm -rf "$apt"
  log "docker-current: unpacked ${versions[*]} into $CURRENT_PREFIX ($(du -sh "$CURRENT_PREFIX" | cut -f1))"
  ensure_current_bin
}

# CURRENT_BIN holds links to exactly the binaries docker-current uses; it leads PATH of its
# containerd and dockerd (which find the shim, runc, docker-init and docker-proxy there).
ensure_current_bin() {
  local names=(dockerd containerd containerd-shim-runc-v2 docker-init runc)
  local targets=("$CURRENT_PREFIX/usr/sbin/dockerd" "$CURRENT_PREFIX/usr/bin/containerd"
    "$CURRENT_PREFIX/usr/bin/containerd-shim-runc-v2" "$CURRENT_PREFIX/usr/bin/tini-static"
    /usr/sbin/runc) # trixie's runc needs glibc 2.38; bookworm's runc 1.1 does
  local i ok=1
  if [[ -x $CURRENT_PREFIX/usr/sbin/docker-proxy ]]; then
    names+=(docker-proxy)
    targets+=("$CURRENT_PREFIX/usr/sbin/docker-proxy")
  fi
  [[ -x /usr/sbin/runc ]] || die "docker-current: /usr/sbin/runc (bookworm's runc package) is missing"
  for i in "${!names[@]}"; do
    [[ $(readlink "$CURRENT_BIN/${names[i]}" 2>/dev/null) == "${targets[i]}" ]] || ok=0
  done
  if ((ok)) && [[ $(find "$CURRENT_BIN" -mindepth 1 -maxdepth 1 | wc -l) == "${#names[@]}" ]]; then
    return 0
  fi
  rm -rf "$CURRENT_BIN.new"
  mkdir -p "$CURRENT_BIN.new"
  for i in "${!names[@]}"; do
    ln -s "${targets[i]}" "$CURRENT_BIN.new/${names[i]}"
  done
  rm -rf "$CURRENT_BIN"
  mv "$CURRENT_BIN.new" "$CURRENT_BIN"
  log "docker-current: PATH directory $CURRENT_BIN: ${names[*]}"
}

write_if_changed() { # write_if_changed FILE CONTENT
  if [[ ! -f $1 || $(cat "$1") != "$2" ]]; then
    printf '%s\n' "$2" >"$1"
  fi
}

ensure_current_config() {
  mkdir -p "$CURRENT_HOME" "$CURRENT_RUN"
  write_if_changed "$CURRENT_DAEMON_JSON" '{}' # keeps /etc/docker/daemon.json away
  # Its own containerd: never reads /etc/containerd; no CRI, no NRI, no /opt/containerd.
  write_if_changed "$CURRENT_CTRD_CONF" "version = 2
root = \"$CURRENT_HOME/containerd\"
state = \"$CURRENT_RUN/containerd\"
plugin_dir = \"\"
disabled_plugins = [\"io.containerd.grpc.v1.cri\", \"io.containerd.nri.v1.nri\"]
oom_score = 0

[grpc]
  address = \"$CURRENT_CTRD_SOCK\"

[ttrpc]
  address = \"\"

[debug]
  address = \"\"

[metrics]
  address = \"\"

[plugins]
  [plugins.\"io.containerd.internal.v1.opt\"]
    path = \"$CURRENT_HOME/containerd-opt\""
}

ensure_current_bridge() {
  if ! ip link show dev "$CURRENT_BRIDGE" >/dev/null 2>&1; then
    log "docker-current: creating bridge $CURRENT_BRIDGE ($CURRENT_BRIDGE_ADDR)"
    ip link add name "$CURRENT_BRIDGE" type bridge
  fi
  if ! ip -4 -o addr show dev "$CURRENT_BRIDGE" | grep -qF " inet $CURRENT_BRIDGE_ADDR "; then
    ip addr add "$CURRENT_BRIDGE_ADDR" dev "$CURRENT_BRIDGE"
  fi
  ip link set dev "$CURRENT_BRIDGE" up
}

ctrd_ok() {
  [[ -S $CURRENT_CTRD_SOCK ]] &&
    timeout 5 "$CURRENT_PREFIX/usr/bin/ctr" --address "$CURRENT_CTRD_SOCK" version >/dev/null 2>&1
}

# Its containerd runs on its own (not as dockerd's child), so a dockerd that died leaves it
# running with its containers' shims: the next dockerd uses it again.
ensure_current_containerd() {
  local pid i
  pid=$(pidfile_alive "$CURRENT_BIN/containerd " "$STATE_DIR/containerd-current.pid")
  if [[ -n $pid ]]; then
    for ((i = 0; i < 40; i++)); do
      ctrd_ok && return 0
      pid_running "$pid" || break
      sleep 0.25
    done
    if pid_running "$pid"; then
      log "docker-current: containerd (pid $pid) does not answer on $CURRENT_CTRD_SOCK; restarting it"
      stop_proc "docker-current containerd" "$pid" "$CURRENT_BIN/containerd "
    fi
  fi
  rm -f "$CURRENT_CTRD_SOCK"
  log "docker-current: starting containerd (unix://$CURRENT_CTRD_SOCK), log $CURRENT_CTRD_LOG"
  pid=$(spawn containerd-current "$CURRENT_CTRD_LOG" \
    env PATH="$CURRENT_BIN:$SYS_PATH" "$CURRENT_BIN/containerd" --config "$CURRENT_CTRD_CONF")
  for ((i = 0; i < START_TIMEOUT * 4; i++)); do
    ctrd_ok && return 0
    pid_running "$pid" || fail_with_log "$CURRENT_CTRD_LOG" "docker-current: containerd (pid $pid) exited during start-up"
    sleep 0.25
  done
  fail_with_log "$CURRENT_CTRD_LOG" "docker-current: containerd did not answer on $CURRENT_CTRD_SOCK within ${START_TIMEOUT}s"
}

CURRENT_STARTED=0
HAD_DOCKER0=0

ensure_docker_current() {
  ensure_current_dist
  local dpid cpid
  dpid=$(pidfile_alive "$CURRENT_BIN/dockerd " "$STATE_DIR/dockerd-current.pid" "$CURRENT_PIDFILE")
  cpid=$(pidfile_alive "$CURRENT_BIN/containerd " "$STATE_DIR/containerd-current.pid")
  if ping_ok "$DOCKER_CURRENT_SOCK"; then
    if [[ -n $dpid && -z $cpid ]]; then
      log "docker-current: dockerd (pid $dpid) answers but its containerd is gone"
      ensure_current_containerd
    fi
    return 0
  fi
  if [[ -n $dpid ]]; then
    log "docker-current: dockerd (pid $dpid) runs but $DOCKER_CURRENT_SOCK does not answer; waiting for it"
    [[ -n $cpid ]] || ensure_current_containerd
    wait_ping "$DOCKER_CURRENT_SOCK" "$dpid" "$CURRENT_LOG" "docker-current dockerd"
    return 0
  fi
  # dockerd refuses to start while its pid file names a live process (a reused pid).
  rm -f "$CURRENT_PIDFILE"
  ensure_current_config
  ensure_current_bridge
  ensure_current_containerd
  if ip link show dev docker0 >/dev/null 2>&1; then HAD_DOCKER0=1; fi
  local args=(
    -H "unix://$DOCKER_CURRENT_SOCK"
    --containerd "$CURRENT_CTRD_SOCK"
    --data-root "$CURRENT_HOME/data"
    --exec-root "$CURRENT_RUN/exec"
    --pidfile "$CURRENT_PIDFILE"
    --config-file "$CURRENT_DAEMON_JSON"
    --cgroup-parent "$CURRENT_CGROUP"
    --bridge "$CURRENT_BRIDGE"
    --iptables=false --ip6tables=false --ip-masq=false --ip-forward=false
  )
  log "docker-current: starting dockerd (-H unix://$DOCKER_CURRENT_SOCK, bridge $CURRENT_BRIDGE), log $CURRENT_LOG"
  local pid
  pid=$(spawn dockerd-current "$CURRENT_LOG" env PATH="$CURRENT_BIN:$SYS_PATH" "$CURRENT_BIN/dockerd" "${args[@]}")
  wait_ping "$DOCKER_CURRENT_SOCK" "$pid" "$CURRENT_LOG" "docker-current dockerd"
  CURRENT_STARTED=1
}

version_ge() { [[ $(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1) == "$2" ]]; } # A >= B

check_current_version() {
  local v ver apiv
  v=$(curl -s --max-time 5 --unix-socket "$DOCKER_CURRENT_SOCK" http://d/version || true)
  ver=$(json_str Version <<<"$v")
  apiv=$(json_str ApiVersion <<<"$v")
  if [[ -z $ver ]] || ! version_ge "$ver" "$CURRENT_MIN_MAJOR"; then
    die "docker-current: GET /version reports Version '$ver'; need $CURRENT_MIN_MAJOR or newer"
  fi
  if [[ -z $apiv ]] || ! version_ge "$apiv" "$CURRENT_MIN_API"; then
    die "docker-current: GET /version reports ApiVersion '$apiv'; need $CURRENT_MIN_API or newer"
  fi
}

# smoke_run ENGINE TARGET NETWORKMODE|default: create, start, wait for `true`, remove.
smoke_run() {
  local engine=$1 target=$2 net=$3 body id code
  body="{\"Image\":\"$IMAGE\",\"Cmd\":[\"true\"]"
  [[ $net == default ]] || body+=",\"HostConfig\":{\"NetworkMode\":\"$net\"}"
  body+='}'
  api "$target" POST "/$API/containers/create" -H 'Content-Type: application/json' -d "$body"
  [[ $CODE == 201 ]] || die "$engine: create (network $net) answered $CODE: $BODY"
  id=$(json_str Id <<<"$BODY")
  api "$target" POST "/$API/containers/$id/start"
  if [[ $CODE == 204 ]]; then
    api "$target" POST "/$API/containers/$id/wait"
    code=$({ grep -o '"StatusCode":[0-9]*' <<<"$BODY" || true; } | cut -d: -f2)
    [[ $CODE == 200 && $code == 0 ]] || CODE="wait $CODE $BODY"
  else
    CODE="start $CODE $BODY"
  fi
  local result=$CODE
  api "$target" DELETE "/$API/containers/$id?force=1"
  [[ $result == 200 ]] || die "$engine: a container on network $net failed: $result"
}

# After a start: Docker 20.10 kept docker0 and its default network, and docker-current runs
# containers on its bridge and with no network.
verify_docker_current() {
  if ((HAD_DOCKER0)) && ! ip link show dev docker0 >/dev/null 2>&1; then
    die "docker-current: the host's docker0 is gone after its dockerd started (see $CURRENT_LOG); Docker 20.10 needs a restart"
  fi
  smoke_run docker-current "$DOCKER_CURRENT_SOCK" default
  smoke_run docker-current "$DOCKER_CURRENT_SOCK" none
  if has docker && ping_ok "$DOCKER_SOCK"; then
    smoke_run docker "$DOCKER_SOCK" default
  fi
  log "docker-current: containers run (bridge $CURRENT_BRIDGE and none); docker0 and Docker 20.10 unaffected"
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

# summary_engine NAME TARGET [TARGET2]: version, API version and addresses of one engine.
summary_engine() {
  local name=$1 target=$2 second=${3:-} v ver apiv addrs
  if ! ping_ok "$target"; then
    printf '%-15s DOWN (%s does not answer)\n' "$name" "$(show_target "$target")"
    return 0
  fi
  to_target "$target"
  v=$(curl -s --max-time 5 "${TARGET_ARGS[@]}" "$TARGET_URL/version" || true)
  ver=$(json_str Version <<<"$v")
  apiv=$(json_str ApiVersion <<<"$v")
  addrs=$(show_target "$target")
  if [[ -n $second ]]; then
    if ping_ok "$second"; then addrs+=" $second"; else addrs+=" ($second DOWN)"; fi
  fi
  printf '%-15s %-15s API %-5s %s\n' "$name" "$ver" "$apiv" "$addrs"
}

summary() {
  if has docker; then
    summary_engine docker "$DOCKER_SOCK" "${DOCKER_TCP:+tcp://$DOCKER_TCP}"
  fi
  if has docker-current; then
    summary_engine docker-current "$DOCKER_CURRENT_SOCK"
  fi
  if has podman; then
    summary_engine podman "$PODMAN_SOCK" "${PODMAN_TCP:+tcp://$PODMAN_TCP}"
  fi
  printf 'image           %s\n' "$IMAGE"
}

main() {
  local cmd=${1:-up} e
  case $cmd in
    up | start | stop | status) ;;
    -h | --help | help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
      return 0
      ;;
    *) die "unknown command '$cmd' (use up, stop or status)" ;;
  esac
  for e in $ENGINES; do
    [[ " ${KNOWN_ENGINES[*]} " == *" $e "* ]] || die "unknown engine '$e' in CSTREAM_ENGINES (known: ${KNOWN_ENGINES[*]})"
  done
  if [[ -n $DOCKER_TCP ]]; then loopback_or_die CSTREAM_DOCKER_TCP "$DOCKER_TCP"; fi
  if [[ -n $PODMAN_TCP ]]; then loopback_or_die CSTREAM_PODMAN_TCP "$PODMAN_TCP"; fi
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
  if has docker; then
    ensure_dockerd
    ensure_image docker "$DOCKER_SOCK"
  fi
  if has docker-current; then
    ensure_docker_current
    ensure_image docker-current "$DOCKER_CURRENT_SOCK"
    check_current_version
    if ((CURRENT_STARTED)); then
      verify_docker_current
    fi
  fi
  if has podman; then
    ensure_containers_conf
    ensure_podman
    ensure_podman_tcp
    ensure_image podman "$PODMAN_SOCK"
  fi
  summary
}

main "$@"
