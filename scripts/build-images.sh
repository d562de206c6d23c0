#!/usr/bin/env bash
# Build the container images the tests run on, without any registry:
#   mlflow-ansible/debian:12, :13  systemd base images (debootstrap + docker import)
#   mlflow-ansible/postgres:15     a real PostgreSQL standing in for RDS
#   mlflow-ansible/moto:5.2.5      moto's server mode standing in for S3 (and AWS)
# Images are cached by tag and rebuilt only when their inputs change (label
# mlflow-ansible.inputs holds a hash of them).
#
# Extra CA certificates of the build machine (/usr/local/share/ca-certificates)
# are copied into the base images and pip is told to use the system bundle,
# so package downloads work behind TLS-intercepting proxies.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
ca_dir=${EXTRA_CA_DIR:-/usr/local/share/ca-certificates}
packages=systemd,systemd-sysv,dbus,python3,python3-apt,ca-certificates,iproute2,procps,curl,kmod,udev,sudo
log() { printf '[build-images] %s\n' "$*" >&2; }

inputs_hash() {
  # Everything that changes an image's content: this script, the trusted CAs,
  # the mirror and, for a derived image, the files of its build context ($1).
  { cat "$0"; cat "$ca_dir"/*.crt 2>/dev/null || true; echo "$mirror"
    if [ -n "${1:-}" ]; then cat "$top/tests/images/$1"/*; fi; } | sha256sum | cut -c1-16
}

current_hash() {
  docker image inspect --format '{{ index .Config.Labels "mlflow-ansible.inputs" }}' "$1" 2>/dev/null || true
}

build_base() {
  local suite=$1 tag=$2 want root
  want=$(inputs_hash)
  if [ "$(current_hash "$tag")" = "$want" ]; then log "$tag is up to date"; return; fi
  log "debootstrap $suite -> $tag"
  root=$(mktemp -d /var/tmp/mlflow-ansible-rootfs.XXXXXX)
  trap 'rm -rf "$root"' RETURN
  debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >/dev/null
  if compgen -G "$ca_dir/*.crt" >/dev/null; then
    cp "$ca_dir"/*.crt "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates >/dev/null
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
}

build_derived() {
  local dir=$1 tag=$2 want
  want=$(inputs_hash "$dir")
  if [ "$(current_hash "$tag")" = "$want" ]; then log "$tag is up to date"; return; fi
  log "docker build $dir -> $tag"
  docker build -q --label "mlflow-ansible.inputs=$want" -t "$tag" "$top/tests/images/$dir" >/dev/null
}

build_base bookworm mlflow-ansible/debian:12 &
b12=$!
build_base trixie mlflow-ansible/debian:13 &
b13=$!
wait "$b12"
build_derived postgres mlflow-ansible/postgres:15 &
bpg=$!
build_derived moto mlflow-ansible/moto:5.2.5 &
bmoto=$!
wait "$b13"; wait "$bpg"; wait "$bmoto"
log "images ready"
