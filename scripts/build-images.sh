#!/usr/bin/env bash
# Build the container images the tests and `make demo` run on, without any registry:
#   mlflow-ansible/debian:12, :13  systemd base images (mmdebstrap + docker import), with the
#                                  apt suites of Debian's AMIs (main, updates, security)
#   mlflow-ansible/server:13       the EC2 instance stand-in: Debian 13 + sshd, sudo and
#                                  cloud-init (NoCloud), as Debian's AMI boots
#   mlflow-ansible/postgres:17     PostgreSQL 17 made to behave like RDS (non-superuser master,
#                                  TLS required, SCRAM passwords)
#   mlflow-ansible/moto:5.2.5      moto's server mode standing in for the AWS API
# Images are cached by tag and rebuilt only when their inputs change (label
# mlflow-ansible.inputs holds a hash of them). Independent images build in parallel; each
# step prints its wall time.
#
# Extra CA certificates of the build machine (/usr/local/share/ca-certificates) are copied
# into the base images and pip is told to use the system bundle, so package downloads work
# behind TLS-intercepting proxies.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
ca_dir=${EXTRA_CA_DIR:-/usr/local/share/ca-certificates}
# adduser: Debian's images have it (debootstrap's minbase brought it; mmdebstrap's does not).
packages=adduser,systemd,systemd-sysv,dbus,python3,python3-apt,ca-certificates,iproute2,procps,curl,kmod,udev,sudo
log() { printf '[build-images] %s\n' "$*" >&2; }
# Runs a command with its output kept aside, shown (the last 40 lines) only when it fails.
quietly() {
  local what=$1 out
  shift
  out=$(mktemp)
  if ! "$@" >"$out" 2>&1; then
    tail -40 "$out" >&2; rm -f "$out"; log "$what failed"; return 1
  fi
  rm -f "$out"
}

base_hash() {
  # Everything that changes a base image: the base part of this script, the trusted CAs and
  # the mirrors.
  { sed -n '/^build_base()/,/^}/p' "$0"; echo "$packages"; cat "$ca_dir"/*.crt 2>/dev/null || true
    echo "$mirror $security_mirror"; } | sha256sum | cut -c1-16
}

derived_hash() {
  # A derived image changes with its build context and with its base image.
  { cat "$top/tests/images/$1"/*; current_hash "$2"; } | sha256sum | cut -c1-16
}

current_hash() {
  docker image inspect --format '{{ index .Config.Labels "mlflow-ansible.inputs" }}' "$1" 2>/dev/null || true
}

build_base() {
  local suite=$1 tag=$2 want root started=$SECONDS
  want=$(base_hash)
  if [ "$(current_hash "$tag")" = "$want" ]; then log "$tag is up to date"; return; fi
  log "mmdebstrap $suite -> $tag"
  root=$(mktemp -d /var/tmp/mlflow-ansible-rootfs.XXXXXX)
  trap 'rm -rf "$root"; trap - RETURN' RETURN
  # mmdebstrap, not debootstrap: apt downloads the packages in parallel. A Debian 13 minbase
  # from the network took 21-28 s against debootstrap's 50 s (2026-12-04); with the packages
  # already downloaded it took 26 s either way, so nothing is cached between builds.
  # Debian 12: merged /usr made by mmdebstrap's hook, which installs usr-is-merged as
  # debootstrap does (without it apt picks usrmerge, and perl with it: 8 packages more than
  # debootstrap's). Debian 13 comes merged by itself.
  local hooks=()
  [ "$suite" != bookworm ] || hooks=(--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr)
  quietly "mmdebstrap $suite" mmdebstrap --quiet --variant=minbase "${hooks[@]}" --include="$packages" "$suite" "$root" "$mirror" \
    || return 1
  # The suites of Debian's own cloud images: the release, its updates and its security
  # fixes, so a host patches itself (unattended-upgrades) the way the real instance does.
  rm -f "$root/etc/apt/sources.list"
  cat > "$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security_mirror
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  if compgen -G "$ca_dir/*.crt" >/dev/null; then
    cp "$ca_dir"/*.crt "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates >/dev/null 2>&1
  fi
  # pip's own certifi bundle does not know the extra CAs: use the system one.
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$root/etc/pip.conf"
  # A container has no console or hardware: don't wait for them at boot.
  for unit in getty.target systemd-udevd.service systemd-udev-trigger.service \
              systemd-remount-fs.service sys-kernel-debug.mount systemd-firstboot.service; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
  done
  # Docker mounts /proc/sys read-only; a VM's is writable and ufw's sysctl step
  # needs it. Remount it early at every boot (the container has CAP_SYS_ADMIN
  # and its own network namespace, so net.* settings stay inside it).
  cat > "$root/etc/systemd/system/test-proc-sys-rw.service" <<'UNIT'
[Unit]
Description=Make /proc/sys writable like on a VM (test containers only)
DefaultDependencies=no
Before=sysinit.target ufw.service systemd-sysctl.service

[Service]
Type=oneshot
ExecStart=/bin/mount -o remount,rw /proc/sys

[Install]
WantedBy=sysinit.target
UNIT
  ln -sf /etc/systemd/system/test-proc-sys-rw.service "$root/etc/systemd/system/sysinit.target.wants/test-proc-sys-rw.service"
  : > "$root/etc/machine-id"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  # An empty package list must look stale, or apt's cache_valid_time trusts it.
  touch -d @0 "$root/var/lib/apt/lists"
  tar -C "$root" -c . | docker import \
    --change 'ENV container=docker' \
    --change "LABEL mlflow-ansible.inputs=$want" \
    --change 'CMD ["/lib/systemd/systemd"]' - "$tag" >/dev/null
  log "$tag built in $((SECONDS - started)) s"
}

build_derived() {
  local dir=$1 base=$2 tag=$3 want started=$SECONDS
  want=$(derived_hash "$dir" "$base")
  if [ "$(current_hash "$tag")" = "$want" ]; then log "$tag is up to date"; return; fi
  log "docker build $dir -> $tag"
  quietly "building $tag" env DOCKER_BUILDKIT=0 docker build --label "mlflow-ansible.inputs=$want" -t "$tag" "$top/tests/images/$dir" \
    || return 1
  log "$tag built in $((SECONDS - started)) s"
}

# `build-images.sh demo` builds what `make demo` runs (Debian 13 and the stand-ins); no
# argument builds everything the tests need too (Debian 12 for the quick scenario).
started=$SECONDS
b12=""
if [ "${1:-all}" != demo ]; then
  build_base bookworm mlflow-ansible/debian:12 &
  b12=$!
fi
build_base trixie mlflow-ansible/debian:13
build_derived server mlflow-ansible/debian:13 mlflow-ansible/server:13 &
bserver=$!
build_derived postgres mlflow-ansible/debian:13 mlflow-ansible/postgres:17 &
bpg=$!
build_derived moto mlflow-ansible/debian:13 mlflow-ansible/moto:5.2.5 &
bmoto=$!
status=0
for job in $b12 "$bserver" "$bpg" "$bmoto"; do wait "$job" || status=1; done
[ "$status" -eq 0 ] || { log "an image failed to build (see above)"; exit 1; }
log "images ready in $((SECONDS - started)) s"
