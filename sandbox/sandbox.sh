#!/usr/bin/env bash
# sandbox.sh: a local multi-host sandbox for MRSK-in-Go, on one Debian 12 machine.
#
#   sandbox.sh install        install missing packages (apt-get, only if a command is missing)
#   sandbox.sh up [N]         (re)create N hosts (default 3), a registry and the Traefik image
#   sandbox.sh down           remove everything `up` made (safe after a crash, or when nothing exists)
#   sandbox.sh exec N CMD...  run CMD inside host N's namespaces (ps, files, docker, ...)
#   sandbox.sh status         print what is up
#   sandbox.sh up N --podman M  also M Podman hosts h(N+1)..h(N+M): rootful Podman 4.3,
#                             no Docker at all (own /usr without docker/dockerd)
#   sandbox.sh podman N       one more Podman host hN (added to the env's Podman hosts)
#   sandbox.sh reboot N       power-cycle Podman host hN: every process but its init and sshd
#                             is killed, what lives in /run is gone, then what systemd would
#                             start at boot runs (the enabled units' ExecStart, if any)
#   sandbox.sh bare N         one more host hN without Docker (own /usr and dpkg database;
#                             apt installs docker.io from a local repository): for bootstrap
#   sandbox.sh unbare N       stop and remove that host (bare or Podman)
#
# Layout (see also sandbox/README.md):
#   bridge mrskbr0 10.77.0.1/24; hosts h1..hN at 10.77.0.11.. in network namespaces mrsk-hN;
#   each host is an `unshare --mount --pid --uts --cgroup --fork` init with private
#   /etc, /var/lib, /var/log (overlays on a per-host tmpfs), /root, /run, /tmp, /dev/shm
#   (fresh tmpfs), its own /proc, cgroup2, dockerd and sshd; a registry with htpasswd
#   auth on 10.77.0.1:5000; a DNS responder on 10.77.0.1:53 (hN names, every *.test name to h1,
#   NXDOMAIN for the rest, so lookups fail fast instead of timing out); an ACME server (pebble)
#   on 10.77.0.1:14000 (directory /dir) and :15000 (management), whose listener CA every host
#   has at /etc/mrsk-sandbox/pebble-ca.pem; iptables keep sandbox traffic on this machine.
#   $MRSK_SANDBOX_STATE (default /var/lib/mrsk-sandbox) holds keys, logs and `env`.
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
HERE=$(dirname "$SELF")
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH:/usr/local/go/bin"

STATE=${MRSK_SANDBOX_STATE:-/var/lib/mrsk-sandbox}
STATE=${STATE%/}
BR=mrskbr0
NET=10.77.0
GW=$NET.1
REG=$GW:5000
REG_USER=mrsk
TRAEFIK_VERSION=v3.6.12
TRAEFIK_IMAGE=$REG/traefik:$TRAEFIK_VERSION
CHAIN=MRSK-SANDBOX
CG_NAME=mrsk-sandbox
MARKER=.mrsk-sandbox
# ACME: pebble on the bridge. Its listener certificate is signed by a CA made per `up`;
# that CA file is what an ACME client (Traefik's lego) must trust to talk to it. The
# certificates pebble issues chain to another root, made by pebble at start and served
# by the management API (/roots/0).
ACME_DIR=https://$GW:14000/dir
ACME_MGMT=https://$GW:15000
HOST_ACME_CA=/etc/mrsk-sandbox/pebble-ca.pem
# The host that every *.test name resolves to (h1): HTTP-01 validation connects there.
TEST_DOMAIN_HOST=$NET.11
SSH_OPTS=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
  -o BatchMode=yes -o ConnectTimeout=3)

log() { echo "sandbox: $*"; }
warn() { echo "sandbox: warning: $*" >&2; }
die() { echo "sandbox: error: $*" >&2; exit 1; }

check_state_path() {
  case "$STATE" in
    /*) ;;
    *) die "MRSK_SANDBOX_STATE must be an absolute path (got '$STATE')" ;;
  esac
  case "$STATE" in
    / | /bin | /boot | /dev | /etc | /home | /lib | /lib64 | /mnt | /opt | /proc | /root | /run | \
      /sbin | /srv | /sys | /tmp | /usr | /var | /var/lib | /var/log | /var/run | /var/tmp | \
      /var/cache | *..* | *' '*)
      die "refusing to use '$STATE' as the sandbox state dir" ;;
  esac
}

host_ip() { echo "$NET.$((10 + $1))"; }

# cgroup2 hierarchy of the root namespace (the "unified" one on a hybrid v1 machine).
cgroup2_root() {
  local m
  m=$(findmnt -n -t cgroup2 -o TARGET 2>/dev/null | head -n1 || true)
  [ -n "$m" ] && [ -w "$m" ] && echo "$m"
  return 0
}

# ---------------------------------------------------------------------------- install

# command -> Debian package providing it
PKG_FOR=(
  dockerd:docker.io docker:docker.io /usr/sbin/sshd:openssh-server ssh:openssh-client
  ssh-keygen:openssh-client ssh-keyscan:openssh-client /usr/bin/docker-registry:docker-registry
  htpasswd:apache2-utils iptables:iptables ip:iproute2 ss:iproute2 curl:curl jq:jq
  unshare:util-linux nsenter:util-linux findmnt:util-linux setsid:util-linux flock:util-linux
  ps:procps dnsmasq:dnsmasq-base git:git /usr/bin/pebble:pebble openssl:openssl
  podman:podman /usr/lib/podman/netavark:netavark /usr/lib/podman/aardvark-dns:aardvark-dns
)

cmd_install() {
  local missing=() entry cmd pkg
  for entry in "${PKG_FOR[@]}"; do
    cmd=${entry%%:*} pkg=${entry#*:}
    if ! command -v "$cmd" >/dev/null 2>&1; then
      case " ${missing[*]-} " in *" $pkg "*) ;; *) missing+=("$pkg") ;; esac
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y "${missing[@]}"
  # On a systemd machine Debian starts its own registry on :5000, which would
  # take the sandbox registry's port: we installed it, so we switch it off.
  case " ${missing[*]} " in
    *" docker-registry "*)
      if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
      fi ;;
  esac
}

# ---------------------------------------------------------------------------- down

# alive = exists and is not a zombie
pid_alive() {
  [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
  local st
  st=$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

kill_and_wait() { # pids...
  local p alive i
  for p in "$@"; do kill -KILL "$p" 2>/dev/null || true; done
  for i in $(seq 1 100); do
    alive=0
    for p in "$@"; do if pid_alive "$p"; then alive=1; fi; done
    [ $alive -eq 0 ] && return 0
    sleep 0.1
  done
  warn "processes still alive after SIGKILL: $*"
}

sandbox_netns() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^mrsk-h[0-9]+$' || true; }

registry_pids() {
  local p pids=()
  if [ -f "$STATE/registry.pid" ]; then
    p=$(cat "$STATE/registry.pid" 2>/dev/null || true)
    if pid_alive "$p" && [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = /usr/bin/docker-registry ]; then
      pids+=("$p")
    fi
  fi
  # after a crash the pid file may be gone: the registry serving our exact config file
  for p in $(ss -ltnpH "sport = :5000" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
    if [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = /usr/bin/docker-registry ] &&
      tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF "serve $STATE/registry/config.yml"; then
      pids+=("$p")
    fi
  done
  [ ${#pids[@]} -gt 0 ] && printf '%s\n' "${pids[@]}" | sort -u
  return 0
}

dns_pids() {
  local p pids=()
  p=$(cat "$STATE/dns.pid" 2>/dev/null || true)
  if pid_alive "$p" && [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = /usr/sbin/dnsmasq ]; then pids+=("$p"); fi
  for p in $(ss -lunpH "sport = :53" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
    if [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = /usr/sbin/dnsmasq ] &&
      tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "--pid-file=$STATE/dns.pid"; then
      pids+=("$p")
    fi
  done
  [ ${#pids[@]} -gt 0 ] && printf '%s\n' "${pids[@]}" | sort -u
  return 0
}

pebble_pids() {
  local p pids=()
  p=$(cat "$STATE/pebble.pid" 2>/dev/null || true)
  if pid_alive "$p" && [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = /usr/bin/pebble ]; then pids+=("$p"); fi
  # after a crash the pid file may be gone: the pebble running our exact config file
  for p in $(ss -ltnpH "sport = :14000" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
    if [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = /usr/bin/pebble ] &&
      tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "-config $STATE/pebble/config.json"; then
      pids+=("$p")
    fi
  done
  [ ${#pids[@]} -gt 0 ] && printf '%s\n' "${pids[@]}" | sort -u
  return 0
}

cmd_down() {
  check_state_path
  local pids=() d p ns m cg v

  # 1. the hosts: each host's init (SIGKILL of a pid namespace's init kills everything in
  #    it: dockerd, containerd, shims, containers, sshd, sessions), its unshare parent,
  #    and whatever is left in the host's network namespace.
  if [ -d "$STATE/hosts" ]; then
    for d in "$STATE"/hosts/h*; do
      [ -d "$d" ] || continue
      for f in pid unshare.pid; do
        p=$(cat "$d/$f" 2>/dev/null || true)
        if pid_alive "$p"; then pids+=("$p"); fi
      done
    done
  fi
  for ns in $(sandbox_netns); do
    for p in $(ip netns pids "$ns" 2>/dev/null || true); do pids+=("$p"); done
  done
  # 2. the registry, the DNS responder and the ACME server
  for p in $(registry_pids) $(dns_pids) $(pebble_pids); do pids+=("$p"); done
  # 3. an `up` still running the Traefik build for us
  p=$(cat "$STATE/traefik-build.pid" 2>/dev/null || true)
  if pid_alive "$p" && tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q build-traefik.sh; then
    kill -KILL -- "-$p" 2>/dev/null || true # its process group (setsid): the go build too
    pids+=("$p")
  fi
  if [ ${#pids[@]} -gt 0 ]; then
    log "stopping ${#pids[@]} sandbox process(es)"
    kill_and_wait "${pids[@]}"
  fi

  # 4. mounts under the state dir in this namespace (the hosts' own mounts died with them)
  if [ -d "$STATE" ]; then
    for m in $(awk -v s="$STATE" '$5 == s || index($5, s "/") == 1 {print $5}' /proc/self/mountinfo | sort -r); do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || warn "could not unmount $m"
    done
  fi

  # 5. the hosts' cgroups (empty once their processes are gone)
  cg=$(cgroup2_root)
  if [ -n "$cg" ] && [ -d "$cg/$CG_NAME" ]; then
    for _ in $(seq 1 50); do
      find "$cg/$CG_NAME" -depth -type d -exec rmdir {} \; 2>/dev/null || true
      [ -d "$cg/$CG_NAME" ] || break
      sleep 0.1
    done
    if [ -d "$cg/$CG_NAME" ]; then warn "cgroup $cg/$CG_NAME not fully removed"; fi
  fi

  # 6. network: namespaces, veths, bridge, iptables
  for ns in $(sandbox_netns); do
    ip netns del "$ns" 2>/dev/null || warn "could not delete netns $ns"
  done
  for v in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E '^mrskv[0-9]+$' || true); do
    ip link del "$v" 2>/dev/null || true
  done
  if ip link show "$BR" >/dev/null 2>&1; then
    ip link del "$BR" || warn "could not delete bridge $BR"
  fi
  local ipt
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null 2>&1 || continue
    while "$ipt" -w -D FORWARD -j "$CHAIN" 2>/dev/null; do :; done
    "$ipt" -w -F "$CHAIN" 2>/dev/null || true
    "$ipt" -w -X "$CHAIN" 2>/dev/null || true
  done

  # 7. the state dir
  if [ -d "$STATE" ]; then
    if [ -e "$STATE/$MARKER" ] || [ -z "$(ls -A "$STATE")" ]; then
      rm -rf "$STATE" || die "could not remove $STATE"
    else
      die "$STATE exists but was not made by sandbox.sh (no $MARKER): not removing it"
    fi
  fi
  log "down"
}

# ---------------------------------------------------------------------------- up

wait_for() { # seconds description command...
  local secs=$1 what=$2 i
  shift 2
  for i in $(seq 1 $((secs * 5))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  return 1
}

root_insecure_ok() {
  docker info --format '{{range $k, $v := .RegistryConfig.IndexConfigs}}{{if not $v.Secure}}{{$k}} {{end}}{{end}}' 2>/dev/null |
    tr ' ' '\n' | grep -qxF "$REG"
}

merge_daemon_json() {
  local f=/etc/docker/daemon.json
  mkdir -p /etc/docker
  if [ -s "$f" ]; then
    jq --arg r "$REG" '.["insecure-registries"] = (((.["insecure-registries"] // []) + [$r]) | unique)' "$f" >"$f.mrsk-tmp"
    mv "$f.mrsk-tmp" "$f"
  else
    printf '{\n  "insecure-registries": ["%s"]\n}\n' "$REG" >"$f"
  fi
}

root_docker() {
  if docker info >/dev/null 2>&1; then
    if root_insecure_ok; then
      log "root docker engine is running and trusts $REG"
      return 0
    fi
    log "root docker engine is running: adding $REG to insecure-registries (/etc/docker/daemon.json, SIGHUP)"
    merge_daemon_json
    local p
    p=$(cat /var/run/docker.pid 2>/dev/null || true)
    if ! pid_alive "$p"; then
      p=$(ss -xlpH src /var/run/docker.sock 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2)
    fi
    pid_alive "$p" || die "cannot find the root dockerd's pid to reload it"
    kill -HUP "$p"
    wait_for 30 "reload" root_insecure_ok ||
      die "the root dockerd did not take $REG as an insecure registry after SIGHUP (a --insecure-registry flag conflicts with daemon.json?)"
    return 0
  fi
  local flags=(--insecure-registry "$REG")
  if [ -s /etc/docker/daemon.json ] && jq -e 'has("insecure-registries")' /etc/docker/daemon.json >/dev/null 2>&1; then
    # a flag and the same key in daemon.json make dockerd refuse to start: use the file
    merge_daemon_json
    flags=()
  fi
  log "starting root dockerd (log: $STATE/dockerd.log)"
  setsid dockerd "${flags[@]}" >>"$STATE/dockerd.log" 2>&1 </dev/null &
  wait_for 60 "root dockerd" docker info || { tail -n 30 "$STATE/dockerd.log" >&2; die "root dockerd did not start"; }
  root_insecure_ok || die "root dockerd does not trust $REG"
}

setup_network() {
  log "bridge $BR $GW/24"
  ip link add "$BR" type bridge
  ip addr add "$GW/24" dev "$BR"
  sysctl -qw "net.ipv6.conf.$BR.disable_ipv6=1" 2>/dev/null || true
  ip link set "$BR" up
  # Sandbox traffic stays on this machine: hosts reach each other (bridged, which
  # br_netfilter may show to FORWARD as $BR -> $BR) and 10.77.0.1 (INPUT), nothing
  # is forwarded from the bridge to any other interface.
  local ipt
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null 2>&1 || continue
    "$ipt" -w -N "$CHAIN"
    "$ipt" -w -A "$CHAIN" -i "$BR" -o "$BR" -j ACCEPT
    "$ipt" -w -A "$CHAIN" -i "$BR" -j DROP
    "$ipt" -w -A "$CHAIN" -o "$BR" -j DROP
    "$ipt" -w -I FORWARD 1 -j "$CHAIN"
  done
}

start_registry() {
  local r=$STATE/registry pw
  mkdir -p "$r/data"
  pw=$(head -c 64 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c 24)
  REG_PASSWORD=$pw
  htpasswd -Bbc "$r/htpasswd" "$REG_USER" "$pw" 2>/dev/null
  cat >"$r/config.yml" <<EOF
version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $r/data
  delete:
    enabled: true
http:
  addr: $REG
  secret: $(head -c 32 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9')
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  htpasswd:
    realm: mrsk-sandbox
    path: $r/htpasswd
EOF
  if ss -ltnH "sport = :5000" 2>/dev/null | grep -qE '(^|\s)(0\.0\.0\.0|\*|\[::\]|10\.77\.0\.1):5000\s'; then
    ss -ltnpH "sport = :5000" >&2 || true
    die "something else listens on port 5000 (Debian's docker-registry service? systemctl disable --now docker-registry)"
  fi
  log "registry on $REG (htpasswd user $REG_USER, log: $STATE/registry.log)"
  setsid /usr/bin/docker-registry serve "$r/config.yml" >>"$STATE/registry.log" 2>&1 </dev/null &
  echo $! >"$STATE/registry.pid"
  registry_up() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$REG/v2/")" = 401 ]; }
  wait_for 30 "registry" registry_up || { tail -n 20 "$STATE/registry.log" >&2; die "registry did not start"; }
}

start_host() {
  local i=$1 ip ns veth hd cg p
  ip=$(host_ip "$i") ns=mrsk-h$i veth=mrskv$i hd=$STATE/hosts/h$i
  log "starting h$i ($ip)"
  mkdir -p "$hd/ov" "$hd/docker" "$hd/exec"
  # host_init copies it into the host's own /etc (it cannot see $STATE/pebble)
  cp "$STATE/pebble/ca.pem" "$hd/pebble-ca.pem"
  ip netns add "$ns"
  ip link add "$veth" type veth peer name eth0 netns "$ns"
  sysctl -qw "net.ipv6.conf.$veth.disable_ipv6=1" 2>/dev/null || true
  ip link set "$veth" master "$BR" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$ip/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add default via "$GW"

  cg=$(cgroup2_root)
  if [ -n "$cg" ]; then
    mkdir -p "$cg/$CG_NAME/h$i"
    # offer the hosts what controllers the sandbox's parent cgroup has (none on a hybrid v1 machine)
    sed -e 's/^/+/' -e 's/ / +/g' "$cg/$CG_NAME/cgroup.controllers" 2>/dev/null | grep -q '[a-z]' &&
      sed -e 's/^/+/' -e 's/ / +/g' "$cg/$CG_NAME/cgroup.controllers" >"$cg/$CG_NAME/cgroup.subtree_control" 2>/dev/null || true
  fi
  (
    if [ -n "$cg" ]; then echo "$BASHPID" >"$cg/$CG_NAME/h$i/cgroup.procs"; fi
    exec setsid ip netns exec "$ns" \
      unshare --mount --pid --uts --cgroup --fork --kill-child \
      env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
      MRSK_SANDBOX_STATE="$STATE" MRSK_SANDBOX_BARE="${BARE:-}" MRSK_SANDBOX_PODMAN="${PODMAN:-}" \
      bash "$SELF" __hostinit "$i"
  ) </dev/null >>"$hd/init.log" 2>&1 &
  echo $! >"$hd/unshare.pid"
  # the init is unshare's only child (pid 1 in the host's pid namespace)
  for _ in $(seq 1 100); do
    p=$(cat "/proc/$(cat "$hd/unshare.pid")/task/$(cat "$hd/unshare.pid")/children" 2>/dev/null | awk '{print $1}')
    [ -n "$p" ] && break
    sleep 0.05
  done
  [ -n "$p" ] || { cat "$hd/init.log" >&2; die "h$i: no init process"; }
  echo "$p" >"$hd/pid"
  echo "$ip" >"$hd/ip"
  if [ -n "${PODMAN:-}" ]; then echo podman >"$hd/runtime"; else echo docker >"$hd/runtime"; fi
}

# A DNS server for the hosts (their resolv.conf points here). Without one, Docker's
# embedded DNS gets no answer for unknown names (e.g. a stopped container's) and
# clients such as Traefik hang for 10 s instead of failing at once. Names hN resolve
# to the hosts; every name under .test (app.test, a.b.test, ...) resolves to h1, so
# that pebble's HTTP-01 validation of a test name really connects to h1's Traefik;
# everything else is NXDOMAIN; nothing is forwarded anywhere.
start_dns() {
  local n=$1 i recs=()
  for i in $(seq 1 "$n"); do recs+=("--host-record=h$i,$(host_ip "$i")"); done
  log "DNS responder on $GW:53 (log: $STATE/dns.log)"
  setsid dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --no-poll \
    --bind-interfaces --listen-address="$GW" --port=53 --address=/#/ \
    --address="/test/$TEST_DOMAIN_HOST" "${recs[@]}" \
    --user=root --group=root --pid-file="$STATE/dns.pid" --log-queries --log-facility="$STATE/dns.log" \
    </dev/null >>"$STATE/dns.log" 2>&1 &
  dns_up() { [ -s "$STATE/dns.pid" ] && ss -lunH "sport = :53" | grep -qF "$GW:53"; }
  wait_for 10 "dns" dns_up || { tail -n 20 "$STATE/dns.log" >&2; die "dnsmasq did not start"; }
}

# pebble, the ACME test server: real HTTP-01/TLS-ALPN-01 validation against the
# address the sandbox DNS gives for a name, on ports 80/443 (the host's Traefik).
# Debian's package ships no certificates for its own listener: make a CA and a
# certificate for $GW per `up` (the hosts get the CA before they start).
make_pebble_certs() {
  local d=$STATE/pebble
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=mrsk sandbox pebble listener CA" -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=$GW" -keyout "$d/key.pem" -out "$d/cert.csr" 2>/dev/null
  # Go's TLS client (lego in Traefik, the tests) needs the IP in a SAN, not in the CN.
  printf 'subjectAltName=IP:%s,DNS:pebble.test\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n' "$GW" >"$d/ext.cnf"
  openssl x509 -req -in "$d/cert.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -days 3650 -extfile "$d/ext.cnf" -out "$d/cert.pem" 2>/dev/null
  rm -f "$d/cert.csr" "$d/ext.cnf" "$d/ca.srl" "$d/ca.key" # nothing else is ever signed by it
  cat >"$d/config.json" <<EOF
{
  "pebble": {
    "listenAddress": "$GW:14000",
    "managementListenAddress": "$GW:15000",
    "certificate": "$d/cert.pem",
    "privateKey": "$d/key.pem",
    "httpPort": 80,
    "tlsPort": 443,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false
  }
}
EOF
}

start_pebble() {
  log "ACME server (pebble) on $ACME_DIR, management $ACME_MGMT (log: $STATE/pebble.log)"
  # NOSLEEP: validate at once instead of after a random 0-15 s; NONCEREJECT=0: never
  # reject a good nonce (pebble rejects 5% by default to exercise client retries,
  # which would make the tests flaky rather than stricter); AUTHZREUSE=0: every new
  # order gets a new authorization that is really validated (by default pebble
  # reuses a valid one half the time, so a host that cannot answer the challenge
  # could still get a certificate). Not VA_ALWAYS_VALID: the challenge must really
  # be answered.
  setsid env PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 \
    /usr/bin/pebble -config "$STATE/pebble/config.json" -dnsserver "$GW:53" \
    </dev/null >>"$STATE/pebble.log" 2>&1 &
  echo $! >"$STATE/pebble.pid"
}

wait_pebble() {
  pebble_up() {
    curl -sf --cacert "$STATE/pebble/ca.pem" -o /dev/null "$ACME_DIR" &&
      curl -sf --cacert "$STATE/pebble/ca.pem" -o /dev/null "$ACME_MGMT/roots/0"
  }
  wait_for 30 "pebble" pebble_up || { tail -n 20 "$STATE/pebble.log" >&2; die "pebble did not start"; }
}

host_ready() { # ip [runtime]
  ssh "${SSH_OPTS[@]}" -i "$STATE/id_ed25519" "root@$1" "${2:-docker}" info
}

wait_hosts() { # from to [runtime]
  local i ip hd deadline=$((SECONDS + 120))
  for i in $(seq "$1" "$2"); do
    ip=$(host_ip "$i") hd=$STATE/hosts/h$i
    until host_ready "$ip" "${3:-docker}" >/dev/null 2>&1; do
      if ! pid_alive "$(cat "$hd/pid")" || [ $SECONDS -ge $deadline ]; then
        echo "---- h$i init.log" >&2; tail -n 20 "$hd/init.log" >&2 || true
        echo "---- h$i dockerd.log" >&2; tail -n 20 "$hd/dockerd.log" >&2 || true
        echo "---- h$i sshd.log" >&2; tail -n 20 "$hd/sshd.log" >&2 || true
        die "h$i ($ip) did not come up"
      fi
      sleep 0.3
    done
    log "h$i ready (ssh root@$ip ${3:-docker} info)"
    ssh-keyscan -T 5 -t ed25519,ecdsa,rsa "$ip" 2>/dev/null >>"$STATE/known_hosts" || true
  done
}

build_traefik_image() {
  local bin ctx=$STATE/traefik-image
  wait "$TRAEFIK_BUILD_PID" || { tail -n 40 "$STATE/traefik-build.log" >&2; die "building Traefik failed (see $STATE/traefik-build.log)"; }
  rm -f "$STATE/traefik-build.pid"
  bin=$(tail -n1 "$STATE/traefik-build.log")
  [ -x "$bin" ] || die "build-traefik.sh did not print a binary path (got '$bin')"
  mkdir -p "$ctx"
  ln -f "$bin" "$ctx/traefik" 2>/dev/null || cp "$bin" "$ctx/traefik"
  printf 'FROM scratch\nCOPY traefik /traefik\nENTRYPOINT ["/traefik"]\n' >"$ctx/Dockerfile"
  log "building $TRAEFIK_IMAGE"
  DOCKER_BUILDKIT=0 docker build -q -t "$TRAEFIK_IMAGE" "$ctx" >/dev/null 2>"$STATE/traefik-image.log" ||
    { cat "$STATE/traefik-image.log" >&2; die "docker build of the Traefik image failed"; }
  rm -f "$ctx/traefik"
  log "pushing $TRAEFIK_IMAGE"
  # a private client config: the root user's ~/.docker is left alone
  export DOCKER_CONFIG=$STATE/docker-client
  mkdir -p "$DOCKER_CONFIG"
  printf '%s' "$REG_PASSWORD" | docker login -u "$REG_USER" --password-stdin "$REG" >/dev/null 2>&1 ||
    die "docker login $REG failed"
  docker push -q "$TRAEFIK_IMAGE" >/dev/null || die "docker push $TRAEFIK_IMAGE failed"
  unset DOCKER_CONFIG
}

write_env() { # docker hosts, podman hosts (comma-separated addresses)
  cat >"$STATE/env.tmp" <<EOF
MRSK_SANDBOX_HOSTS=$1
MRSK_SANDBOX_PODMAN_HOSTS=$2
MRSK_SANDBOX_REGISTRY=$REG
MRSK_SANDBOX_REGISTRY_USER=$REG_USER
MRSK_SANDBOX_REGISTRY_PASSWORD=$REG_PASSWORD
MRSK_SANDBOX_SSH_KEY=$STATE/id_ed25519
MRSK_SANDBOX_TRAEFIK_IMAGE=$TRAEFIK_IMAGE
MRSK_SANDBOX_STATE=$STATE
MRSK_SANDBOX_REGISTRY_LOG=$STATE/registry.log
MRSK_SANDBOX_KNOWN_HOSTS=$STATE/known_hosts
MRSK_SANDBOX_ACME_DIRECTORY=$ACME_DIR
MRSK_SANDBOX_ACME_CA_FILE=$HOST_ACME_CA
MRSK_SANDBOX_ACME_CA_LOCAL=$STATE/pebble/ca.pem
MRSK_SANDBOX_ACME_MANAGEMENT=$ACME_MGMT
MRSK_SANDBOX_PEBBLE_LOG=$STATE/pebble.log
MRSK_SANDBOX_TEST_DOMAIN_IP=$TEST_DOMAIN_HOST
EOF
  chmod 600 "$STATE/env.tmp"
  mv "$STATE/env.tmp" "$STATE/env"
}

up_exit() {
  local rc=$?
  [ $rc -eq 0 ] && return 0
  if [ -n "${TRAEFIK_BUILD_PID:-}" ]; then kill -- "-$TRAEFIK_BUILD_PID" 2>/dev/null || true; fi
  echo "sandbox: up failed (exit $rc); what was started is still there: sandbox.sh down cleans up" >&2
}

cmd_up() {
  local n=${1:-3} t0=$SECONDS i pm=0 hosts="" phosts=""
  if [ "${2:-}" = --podman ]; then pm=${3:-}; fi
  case "$n$pm" in '' | *[!0-9]*) die "usage: sandbox.sh up [N [--podman M]] (numbers)" ;; esac
  [ "$n" -ge 1 ] && [ "$n" -le 50 ] || die "N must be between 1 and 50"
  [ "$(id -u)" = 0 ] || die "must run as root"
  check_state_path
  cmd_down
  cmd_install
  mkdir -p "$STATE/hosts"
  chmod 700 "$STATE"
  touch "$STATE/$MARKER"
  TRAEFIK_BUILD_PID=
  trap up_exit EXIT

  # the Traefik binary builds (first time: minutes) while the rest comes up
  log "building Traefik $TRAEFIK_VERSION (cached after the first time; log: $STATE/traefik-build.log)"
  setsid bash "$HERE/scripts/build-traefik.sh" </dev/null >"$STATE/traefik-build.log" 2>&1 &
  TRAEFIK_BUILD_PID=$!
  echo "$TRAEFIK_BUILD_PID" >"$STATE/traefik-build.pid"

  root_docker
  setup_network
  log "ssh key $STATE/id_ed25519"
  ssh-keygen -q -t ed25519 -N '' -C mrsk-sandbox -f "$STATE/id_ed25519"
  : >"$STATE/known_hosts"
  start_registry
  start_dns "$n"
  make_pebble_certs
  start_pebble
  for i in $(seq 1 "$n"); do start_host "$i"; hosts+="${hosts:+,}$(host_ip "$i")"; done
  for i in $(seq $((n + 1)) $((n + pm))); do PODMAN=1 start_host "$i"; phosts+="${phosts:+,}$(host_ip "$i")"; done
  wait_pebble
  wait_hosts 1 "$n"
  [ "$pm" -eq 0 ] || wait_hosts $((n + 1)) $((n + pm)) podman
  build_traefik_image
  TRAEFIK_BUILD_PID=
  write_env "$hosts" "$phosts"
  trap - EXIT
  log "up: $n host(s) in $((SECONDS - t0))s; env: $STATE/env"
  grep -v PASSWORD "$STATE/env" # the registry password stays in the file
}

# ---------------------------------------------------------------------------- host init
# Runs as pid 1 of a host's pid namespace, in its own mount/uts/cgroup namespaces and
# in network namespace mrsk-hN. Not meant to be called by hand.

# A Podman host, as Debian 12's podman 4.3 is used rootful on a server, minus systemd:
# cgroupfs and file events (no systemd here), no pids limit and k8s-file logs (this
# host's cgroup2 view has no controllers), storage on the host's real dir (not on an
# overlay), the sandbox registry (plain HTTP) marked insecure, and no docker at all.
podman_host_config() {
  local hd=$1 m
  while m=$(command -v docker || command -v dockerd); do rm -f "$m" || break; done
  # Nothing enabled at boot but what is enabled on this host later (its /etc
  # is an overlay of the machine's, whose units are not this server's).
  rm -f /etc/systemd/system/multi-user.target.wants/*
  mkdir -p /etc/containers "$hd/podman/storage"
  cat >/etc/containers/containers.conf <<'EOF'
[containers]
pids_limit = 0
log_driver = "k8s-file"
# conmon stays out of a cgroup of its own (this host's cgroup2 view cannot make one)
cgroups = "no-conmon"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
  cat >/etc/containers/storage.conf <<EOF
[storage]
driver = "overlay"
runroot = "/run/containers/storage"
graphroot = "$hd/podman/storage"
EOF
  cat >/etc/containers/registries.conf <<EOF
unqualified-search-registries = []

[[registry]]
location = "$REG"
insecure = true
EOF
}

host_init() {
  local i=$1 name=h$1 ip hd pub m d key
  ip=$(host_ip "$i") hd=$STATE/hosts/h$i
  pub=$(cat "$STATE/id_ed25519.pub")
  echo "init $name ($ip) at $(date -u +%FT%TZ)"

  mount --make-rprivate /
  hostname "$name"
  # Drop inherited mounts this host must not hold or see: other hosts' netns handles,
  # the root engine's container mounts, anything under the state dir.
  for m in $(awk -v s="$STATE" '$5 ~ "^/run/" || $5 == "/var/lib/docker" || $5 ~ "^/var/lib/docker/" || index($5, s "/") == 1 {print $5}' \
    /proc/self/mountinfo | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done

  # The real per-host dir, parked on /mnt while the overlays go up, holds a tmpfs
  # for the overlays' upper layers (a tmpfs: an upper dir must not sit inside its
  # own lower dir, and this host's writes stay in its own memory).
  mount --bind "$hd" /mnt
  mount -t tmpfs -o mode=0755 "mrsk-$name" /mnt/ov
  local ovl="/etc /var/log /var/lib"
  # A bare host (sandbox.sh bare N) has its own /usr too: it installs packages.
  # So has a Podman host: docker is removed from it.
  [ -z "${MRSK_SANDBOX_BARE:-}${MRSK_SANDBOX_PODMAN:-}" ] || ovl="/usr $ovl"
  for d in $ovl; do # /var/lib last: /mnt must still be reachable
    key=$(echo "$d" | tr / _)
    mkdir -p "/mnt/ov/$key/u" "/mnt/ov/$key/w"
    mount -t overlay "mrsk-$name" -o "lowerdir=$d,upperdir=/mnt/ov/$key/u,workdir=/mnt/ov/$key/w" "$d"
  done
  # Fresh, empty places, as on a newly booted host.
  mount -t tmpfs -o mode=0700 "mrsk-$name" /root
  cp -a /etc/skel/. /root/
  mount -t tmpfs -o mode=0755 "mrsk-$name" /run
  mkdir -p /run/sshd /run/lock /run/docker
  mount -t tmpfs -o mode=1777 "mrsk-$name" /tmp
  mount -t tmpfs -o mode=1777 "mrsk-$name" /dev/shm
  mount -t proc proc /proc
  mount -t cgroup2 cgroup2 /sys/fs/cgroup
  # Hide the sandbox state (other hosts, the registry's password and data, the key):
  # this host sees only its own dir there.
  mkdir -p "$STATE"
  mount -t tmpfs -o mode=0700 "mrsk-$name" "$STATE"
  mkdir -p "$hd"
  mount --move /mnt "$hd"
  # The root engine's data is not this host's: /var/lib/docker is the host's own.
  mkdir -p /var/lib/docker
  mount --bind "$hd/docker" /var/lib/docker

  # cgroup v2 with controllers (a pure v2 machine): leave the root cgroup to dockerd
  # (no internal processes), as docker-in-docker does.
  if [ -s /sys/fs/cgroup/cgroup.controllers ]; then
    mkdir -p /sys/fs/cgroup/init
    xargs -rn1 </sys/fs/cgroup/cgroup.procs >/sys/fs/cgroup/init/cgroup.procs 2>/dev/null || true
    sed -e 's/ / +/g' -e 's/^/+/' </sys/fs/cgroup/cgroup.controllers >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
  fi

  # Identity
  echo "$name" >/etc/hostname
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\t%s\n' "$ip" "$name" >/etc/hosts
  # DNS: nothing leaves the sandbox, so point at the bridge (refused at once, no timeouts).
  rm -f /etc/resolv.conf
  echo "nameserver $GW" >/etc/resolv.conf
  head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >/etc/machine-id
  echo >>/etc/machine-id
  mkdir -p /etc/docker
  echo '{}' >/etc/docker/daemon.json
  # The CA of the sandbox ACME server's listener, for Traefik (LEGO_CA_CERTIFICATES).
  mkdir -p "$(dirname "$HOST_ACME_CA")"
  cp "$hd/pebble-ca.pem" "$HOST_ACME_CA"
  chmod 644 "$HOST_ACME_CA"

  # SSH: own host keys, root by key only.
  rm -f /etc/ssh/ssh_host_*
  ssh-keygen -A >/dev/null
  mkdir -p /root/.ssh
  chmod 700 /root/.ssh
  echo "$pub" >/root/.ssh/authorized_keys
  chmod 600 /root/.ssh/authorized_keys
  cat >/etc/ssh/sshd_config <<'EOF'
# mrsk sandbox host
Port 22
ListenAddress 0.0.0.0
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_ecdsa_key
HostKey /etc/ssh/ssh_host_rsa_key
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AuthorizedKeysFile .ssh/authorized_keys
PidFile /run/sshd.pid
PrintMotd no
PrintLastLog no
UseDNS no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
EOF

  if [ -n "${MRSK_SANDBOX_BARE:-}" ]; then
    # No Docker here (as on a fresh server): docker.io is removed from this host's
    # own /usr and dpkg database, apt installs only from the local repository
    # ($hd/repo, the docker.io package of this machine's mirror), and the engine an
    # install starts (its init script) finds its settings in /etc/docker/daemon.json.
    DEBIAN_FRONTEND=noninteractive dpkg -r --force-depends docker.io >>"$hd/bare.log" 2>&1 || true
    # (and any other docker on PATH: this host's /usr is its own overlay)
    while m=$(command -v docker); do rm -f "$m" || break; done
    mkdir -p /etc/apt/sources.list.d.off
    mv /etc/apt/sources.list.d/* /etc/apt/sources.list.d.off/ 2>/dev/null || true
    : >/etc/apt/sources.list
    echo "deb [trusted=yes] file:$hd/repo ./" >/etc/apt/sources.list.d/mrsk-local.list
    # ($hd is root's only: apt's unprivileged download user cannot read it)
    echo 'APT::Sandbox::User "root";' >/etc/apt/apt.conf.d/99mrsk-sandbox
    printf '{"data-root": "%s", "exec-root": "%s", "insecure-registries": ["%s"]}\n' "$hd/docker" "$hd/exec" "$REG" >/etc/docker/daemon.json
  elif [ -n "${MRSK_SANDBOX_PODMAN:-}" ]; then
    podman_host_config "$hd"
  else
    dockerd --data-root "$hd/docker" --exec-root "$hd/exec" --pidfile /var/run/docker.pid \
      -H unix:///var/run/docker.sock --insecure-registry "$REG" >>"$hd/dockerd.log" 2>&1 </dev/null &
  fi
  /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config >>"$hd/sshd.log" 2>&1 </dev/null &
  echo "started sshd${MRSK_SANDBOX_PODMAN:- and dockerd}"

  # pid 1: reap whatever is orphaned to us, forever (down SIGKILLs us from outside).
  trap '' TERM INT HUP
  while :; do
    sleep 3600 &
    wait $! || true
  done
}

# ---------------------------------------------------------------------------- exec, status

host_pid() {
  local p
  p=$(cat "$STATE/hosts/h$1/pid" 2>/dev/null || true)
  pid_alive "$p" || die "host h$1 is not running"
  echo "$p"
}

cmd_exec() {
  [ $# -ge 2 ] || die "usage: sandbox.sh exec N CMD..."
  local n=${1#h} p
  shift
  p=$(host_pid "$n")
  exec nsenter -t "$p" -a -- "$@"
}

cmd_status() {
  check_state_path
  if [ ! -f "$STATE/env" ] && [ ! -d "$STATE/hosts" ]; then
    echo "sandbox: down (no $STATE)"
    sandbox_netns | sed 's/^/sandbox: leftover netns /'
    ip link show "$BR" >/dev/null 2>&1 && echo "sandbox: leftover bridge $BR"
    return 0
  fi
  local d p ip name rc=0
  if ip link show "$BR" >/dev/null 2>&1; then echo "bridge    $BR $GW/24 up"; else echo "bridge    $BR missing"; rc=1; fi
  p=$(cat "$STATE/registry.pid" 2>/dev/null || true)
  if pid_alive "$p"; then echo "registry  $REG pid $p (log $STATE/registry.log)"; else echo "registry  $REG NOT RUNNING"; rc=1; fi
  p=$(cat "$STATE/dns.pid" 2>/dev/null || true)
  if pid_alive "$p"; then echo "dns       $GW:53 pid $p (log $STATE/dns.log)"; else echo "dns       $GW:53 NOT RUNNING"; rc=1; fi
  p=$(cat "$STATE/pebble.pid" 2>/dev/null || true)
  if pid_alive "$p"; then echo "pebble    $ACME_DIR pid $p (log $STATE/pebble.log)"; else echo "pebble    $ACME_DIR NOT RUNNING"; rc=1; fi
  for d in "$STATE"/hosts/h*; do
    [ -d "$d" ] || continue
    name=$(basename "$d") ip=$(cat "$d/ip" 2>/dev/null || echo '?') p=$(cat "$d/pid" 2>/dev/null || true)
    if ! pid_alive "$p"; then
      echo "$name        $ip DOWN"
      rc=1
    elif host_ready "$ip" "$(cat "$d/runtime" 2>/dev/null || echo docker)" >/dev/null 2>&1; then
      echo "$name        $ip up (init pid $p, ssh + $(cat "$d/runtime" 2>/dev/null || echo docker) answer)"
    else
      echo "$name        $ip init pid $p alive, but ssh/docker do not answer"
      rc=1
    fi
  done
  if [ -f "$STATE/env" ]; then
    echo "env       $STATE/env"
    sed 's/^\(MRSK_SANDBOX_REGISTRY_PASSWORD=\).*/\1[REDACTED]/; s/^/  /' "$STATE/env"
  else
    echo "env       missing (up did not finish)"
    rc=1
  fi
  return $rc
}

# ---------------------------------------------------------------------------- bare hosts
# `bare N` starts one more host, hN, with no Docker: its own /usr and dpkg database
# without docker.io, and apt installing only from a local repository holding the
# docker.io package (fetched once from this machine's mirror with apt-get download).
# What `mrsk server bootstrap` installs there stays in that host. `unbare N` stops it.

cmd_bare() {
  local i=${1:-} ip hd deb cache=/var/cache/mrsk/debs deadline
  case "$i" in '' | *[!0-9]*) die "usage: sandbox.sh bare N" ;; esac
  [ "$(id -u)" = 0 ] || die "must run as root"
  [ -f "$STATE/env" ] || die "no sandbox: run sandbox.sh up first"
  hd=$STATE/hosts/h$i ip=$(host_ip "$i")
  [ ! -e "$hd" ] || die "h$i exists (sandbox.sh unbare $i first)"
  mkdir -p "$cache"
  deb=$(ls "$cache"/docker.io_*.deb 2>/dev/null | head -n1 || true)
  if [ -z "$deb" ]; then
    (cd "$cache" && apt-get download docker.io >/dev/null) || die "cannot download docker.io"
    deb=$(ls "$cache"/docker.io_*.deb | head -n1)
  fi
  mkdir -p "$hd/repo"
  cp "$deb" "$hd/repo/"
  (cd "$hd/repo" && dpkg-scanpackages --multiversion . /dev/null >Packages 2>/dev/null)
  BARE=1 start_host "$i"
  deadline=$((SECONDS + 60))
  until ssh "${SSH_OPTS[@]}" -i "$STATE/id_ed25519" "root@$ip" true >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "h$i ($ip) did not come up (see $hd/init.log)"
    sleep 0.3
  done
  log "h$i ($ip) up without Docker"
}

# `podman N` starts one more Podman host hN on a running sandbox and adds it to the
# env's MRSK_SANDBOX_PODMAN_HOSTS; `unbare N` stops it.
cmd_podman() {
  local i=${1:-} ip hd hosts phosts
  case "$i" in '' | *[!0-9]*) die "usage: sandbox.sh podman N" ;; esac
  [ "$(id -u)" = 0 ] || die "must run as root"
  [ -f "$STATE/env" ] || die "no sandbox: run sandbox.sh up first"
  hd=$STATE/hosts/h$i ip=$(host_ip "$i")
  [ ! -e "$hd" ] || die "h$i exists (sandbox.sh unbare $i first)"
  PODMAN=1 start_host "$i"
  wait_hosts "$i" "$i" podman
  hosts=$(sed -n 's/^MRSK_SANDBOX_HOSTS=//p' "$STATE/env")
  phosts=$(sed -n 's/^MRSK_SANDBOX_PODMAN_HOSTS=//p' "$STATE/env")
  case ",$phosts," in *",$ip,"*) ;; *) phosts+="${phosts:+,}$ip" ;; esac
  REG_PASSWORD=$(sed -n 's/^MRSK_SANDBOX_REGISTRY_PASSWORD=//p' "$STATE/env")
  write_env "$hosts" "$phosts"
  log "h$i ($ip) up with Podman"
}

# A reboot of a Podman host, short of a new kernel: its disk (/etc, /var/lib,
# the storage graph, /root) stays; its processes, network state and /run
# do not. Then the units a systemd would start at boot are started the way
# systemd would: each multi-user.target unit's ExecStart, in a shell. (The
# sandbox hosts run no systemd; this is its part, and only that.)
cmd_reboot() {
  local i=${1:-} p
  case "$i" in '' | *[!0-9]*) die "usage: sandbox.sh reboot N" ;; esac
  [ "$(cat "$STATE/hosts/h$i/runtime" 2>/dev/null)" = podman ] || die "h$i is not a Podman host (a Docker host's reboot is its dockerd's restart)"
  p=$(host_pid "$i")
  nsenter -t "$p" -a -- sh -s <<'EOF'
set -u
me=$$
sshd=$(cat /run/sshd.pid 2>/dev/null || echo none)
for d in /proc/[0-9]*; do
  q=${d#/proc/}
  case "$q" in 1 | "$me" | "$sshd") continue ;; esac
  # the sshd listener's own children are sessions: they die too
  kill -9 "$q" 2>/dev/null || true
done
sleep 0.3
# what the kernel would drop: the containers' mounts and network namespaces,
# the bridge and its firewall rules, everything under /run but sshd's.
awk '$2 ~ "^/run/" || $2 ~ "/podman/storage/" {print $2}' /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
for l in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1); do
  case "$l" in lo | eth0) ;; *) ip link del "$l" 2>/dev/null || true ;; esac
done
iptables -t nat -F; iptables -t nat -X; iptables -F; iptables -X
find /run -mindepth 1 -maxdepth 1 ! -name sshd ! -name sshd.pid ! -name lock -exec rm -rf {} + 2>/dev/null || true
find /dev/shm -mindepth 1 -maxdepth 1 -exec rm -rf {} + 2>/dev/null || true
mkdir -p /run/lock
# boot: the enabled units (symlinks in multi-user.target.wants), as systemd runs them
for u in /etc/systemd/system/multi-user.target.wants/*.service; do
  [ -e "$u" ] || continue
  cmd=$(sed -n 's/^ExecStart=//p' "$u" | head -n1)
  [ -n "$cmd" ] || continue
  echo "boot: $(basename "$u"): $cmd"
  (cd / && env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root sh -c "$cmd") </dev/null 2>&1 || echo "boot: $(basename "$u") failed"
done
EOF
  log "h$i rebooted"
}

cmd_unbare() {
  local i=${1:-} hd p
  case "$i" in '' | *[!0-9]*) die "usage: sandbox.sh unbare N" ;; esac
  hd=$STATE/hosts/h$i
  [ -d "$hd" ] || return 0
  p=$(cat "$hd/pid" 2>/dev/null || true)
  [ -z "$p" ] || kill -9 "$p" 2>/dev/null || true
  for p in $(ip netns pids "mrsk-h$i" 2>/dev/null || true); do kill -9 "$p" 2>/dev/null || true; done
  sleep 0.5
  ip netns del "mrsk-h$i" 2>/dev/null || true
  ip link del "mrskv$i" 2>/dev/null || true
  for p in $(awk -v d="$hd" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r); do umount -l "$p" 2>/dev/null || true; done
  rm -rf "$hd"
  if [ -f "$STATE/env" ] && grep -q "^MRSK_SANDBOX_PODMAN_HOSTS=.*$(host_ip "$i")" "$STATE/env"; then
    local hosts phosts ip
    ip=$(host_ip "$i")
    hosts=$(sed -n 's/^MRSK_SANDBOX_HOSTS=//p' "$STATE/env")
    phosts=$(sed -n 's/^MRSK_SANDBOX_PODMAN_HOSTS=//p' "$STATE/env" | tr , '\n' | { grep -vxF "$ip" || true; } | paste -sd, -)
    REG_PASSWORD=$(sed -n 's/^MRSK_SANDBOX_REGISTRY_PASSWORD=//p' "$STATE/env")
    write_env "$hosts" "$phosts"
  fi
}

# ---------------------------------------------------------------------------- main

usage() {
  sed -n '2,17p' "$SELF" | sed 's/^# \{0,1\}//'
}

main() {
  local cmd=${1:-}
  [ $# -gt 0 ] && shift
  case "$cmd" in
    install) cmd_install ;;
    up) cmd_up "$@" ;;
    down) [ "$(id -u)" = 0 ] || die "must run as root"; cmd_down ;;
    exec) cmd_exec "$@" ;;
    status) cmd_status ;;
    bare) cmd_bare "$@" ;;
    podman) cmd_podman "$@" ;;
    reboot) cmd_reboot "$@" ;;
    unbare) cmd_unbare "$@" ;;
    __hostinit) host_init "$@" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
