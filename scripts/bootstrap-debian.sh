#!/usr/bin/env bash
# Installs and starts what Outpost's tests need on a Debian 12 machine (CI included).
# Idempotent: a prepared machine neither touches apt nor restarts anything.
# Redis, Mosquitto and the registry are NOT started here: tests start their own
# on random loopback ports. System services apt may auto-start are left alone.
set -euo pipefail

log() { printf '[bootstrap] %s\n' "$*"; }

# package -> command that proves it is usable
declare -A PROBES=(
  [docker.io]=dockerd
  [redis-server]=redis-server
  [mosquitto]=mosquitto
  [mosquitto-clients]=mosquitto_pub
  [docker-registry]=docker-registry
  [apache2-utils]=htpasswd
  [chromium]=chromium
  [iproute2]=tc
  # F4/F5 partitions: iptables run inside an agent container's network namespace via nsenter.
  [iptables]=iptables
  [util-linux]=nsenter
  # libfaketime: agents on a skewed or sped-up clock (test/e2e/clock-skew, control-plane-outage)
  [faketime]=faketime
)

export PATH="$PATH:/usr/sbin:/sbin"

dpkg_installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

static_busybox_present() {
  # The test images are FROM scratch, so only a statically linked busybox will do.
  dpkg_installed busybox-static && return 0
  local bb
  for bb in /usr/bin/busybox /bin/busybox; do
    if [ -x "$bb" ] && LC_ALL=C ldd "$bb" 2>&1 | grep -q 'not a dynamic executable'; then
      return 0
    fi
  done
  return 1
}

missing=()
for pkg in "${!PROBES[@]}"; do
  if command -v "${PROBES[$pkg]}" >/dev/null 2>&1 || dpkg_installed "$pkg"; then
    continue
  fi
  missing+=("$pkg")
done
static_busybox_present || missing+=(busybox-static)

if [ "${#missing[@]}" -eq 0 ]; then
  log "packages: all present, apt not needed"
else
  log "packages missing: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    log "error: must run as root to install packages" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q "${missing[@]}"
  log "packages installed: ${missing[*]}"
fi

if docker info >/dev/null 2>&1; then
  log "docker: engine already answering"
else
  if pgrep -x dockerd >/dev/null 2>&1; then
    log "docker: dockerd process exists but does not answer yet; waiting"
  else
    if [ "$(id -u)" -ne 0 ]; then
      log "error: docker engine not running and not root to start it" >&2
      exit 1
    fi
    log "docker: starting dockerd (log: /var/log/dockerd.log)"
    # setsid + nohup: the engine outlives this script and the CI step that ran it.
    setsid nohup dockerd >>/var/log/dockerd.log 2>&1 </dev/null &
  fi
  for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then break; fi
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    log "error: docker engine not answering after 60 s; tail of /var/log/dockerd.log:" >&2
    tail -n 40 /var/log/dockerd.log >&2 || true
    exit 1
  fi
  log "docker: engine ready"
fi

version_of() { "$@" 2>&1 | head -n 1 || true; }
log "node: $(version_of node --version)"
log "npm: $(version_of npm --version)"
log "docker server: $(version_of docker version --format '{{.Server.Version}}')"
log "redis: $(version_of redis-server --version)"
log "mosquitto: $(version_of mosquitto -h)"
log "done"
