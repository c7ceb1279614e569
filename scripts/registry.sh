#!/usr/bin/env bash
# Starts two local registries for the pull tests and pushes the test image to
# both (through Docker's Engine API), idempotently:
#   127.0.0.1:5000  open
#   127.0.0.1:5001  basic auth (htpasswd): user cstream, password cstream-secret
# Podman is told both are plain-HTTP registries. Needs scripts/engines.sh first.
#
#   scripts/registry.sh [up]   install, start, push (skips what is done)
#   scripts/registry.sh stop   stop the registries it started
set -Eeuo pipefail
STATE=/var/lib/cstream-registry
DOCKER_SOCK=${CSTREAM_DOCKER_SOCK:-/var/run/docker.sock}
IMAGE=cstream-test:latest
USER_NAME=cstream
USER_PASS=cstream-secret

log() { printf '[registry] %s\n' "$*" >&2; }
die() { printf '[registry] ERROR: %s\n' "$*" >&2; exit 1; }

install() {
  local missing=()
  command -v docker-registry >/dev/null || missing+=(docker-registry)
  command -v htpasswd >/dev/null || missing+=(apache2-utils)
  command -v curl >/dev/null || missing+=(curl)
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

answers() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$1/v2/" || true; }

start() { # start NAME PORT AUTH(0|1)
  local name=$1 port=$2 auth=$3 dir=$STATE/$1 code i
  code=$(answers "127.0.0.1:$port")
  if [[ $code == 200 || $code == 401 ]]; then
    return 0
  fi
  mkdir -p "$dir/data"
  {
    echo "version: 0.1"
    echo "log: {level: warn}"
    echo "storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}"
    echo "http: {addr: 127.0.0.1:$port}"
    if [[ $auth == 1 ]]; then
      htpasswd -Bbn "$USER_NAME" "$USER_PASS" >"$dir/htpasswd"
      echo "auth: {htpasswd: {realm: cstream-test, path: $dir/htpasswd}}"
    fi
  } >"$dir/config.yml"
  log "starting registry $name on 127.0.0.1:$port"
  (cd "$dir" && exec setsid nohup docker-registry serve "$dir/config.yml" </dev/null >>"$dir/registry.log" 2>&1) &
  echo $! >"$dir/pid"
  for ((i = 0; i < 40; i++)); do
    code=$(answers "127.0.0.1:$port")
    [[ $code == 200 || $code == 401 ]] && return 0
    sleep 0.25
  done
  tail -20 "$dir/registry.log" >&2 || true
  die "registry $name did not come up"
}

podman_insecure() {
  local f=/etc/containers/registries.conf.d/cstream-test.conf
  [[ -f $f ]] && return 0
  mkdir -p "$(dirname "$f")"
  printf '[[registry]]\nlocation = "127.0.0.1:5000"\ninsecure = true\n\n[[registry]]\nlocation = "127.0.0.1:5001"\ninsecure = true\n' >"$f"
  # The Podman service reads registries.conf when it starts.
  log "restarting the Podman service to read $f"
  local here
  here=$(cd "$(dirname "$0")" && pwd)
  CSTREAM_ENGINES=podman "$here/engines.sh" stop >/dev/null
  CSTREAM_ENGINES=podman "$here/engines.sh" up >/dev/null
}

api() { # api METHOD PATH [curl args]: prints the body, fails on HTTP >= 400
  local method=$1 path=$2
  shift 2
  curl -sS --fail-with-body --unix-socket "$DOCKER_SOCK" -X "$method" "$@" "http://d/v1.41$path"
}

b64url() { base64 -w0 | tr '+/' '-_'; }

push() { # push REGISTRY AUTHJSON: tags the test image as REGISTRY/cstream-test:v1 and pushes it
  local reg=$1 auth out
  auth=$(printf '%s' "$2" | b64url)
  if curl -s -o /dev/null -w '%{http_code}' -u "$USER_NAME:$USER_PASS" \
      "http://$reg/v2/cstream-test/manifests/v1" -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' | grep -q 200; then
    return 0
  fi
  log "pushing $IMAGE to $reg/cstream-test:v1"
  api POST "/images/$IMAGE/tag?repo=$reg/cstream-test&tag=v1" >/dev/null
  out=$(api POST "/images/$reg/cstream-test/push?tag=v1" -H "X-Registry-Auth: $auth")
  if grep -q '"error' <<<"$out"; then
    die "push to $reg failed: $out"
  fi
}

up() {
  install
  start open 5000 0
  start auth 5001 1
  podman_insecure
  push 127.0.0.1:5000 '{}'
  push 127.0.0.1:5001 "{\"username\":\"$USER_NAME\",\"password\":\"$USER_PASS\",\"serveraddress\":\"127.0.0.1:5001\"}"
  log "registries up: 127.0.0.1:5000 (open), 127.0.0.1:5001 ($USER_NAME/$USER_PASS); image cstream-test:v1 in both"
}

stop() {
  local name pid
  for name in open auth; do
    pid=$(cat "$STATE/$name/pid" 2>/dev/null || true)
    [[ -n $pid ]] && kill "$pid" 2>/dev/null && log "stopped registry $name"
    rm -f "$STATE/$name/pid"
  done
}

case ${1:-up} in
  up) up ;;
  stop) stop ;;
  *) die "usage: scripts/registry.sh [up|stop]" ;;
esac
