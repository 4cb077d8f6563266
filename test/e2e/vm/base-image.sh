#!/bin/bash
# Recipe for the e2e base image: a Debian 12 cloud image like Debian's "genericcloud", built from Debian's
# own packages (debootstrap bookworm from deb.debian.org), nothing else from the internet.
#
#   GPT disk of 3 GiB: p14 BIOS boot (GRUB core), p1 ext4 root (grows to the disk through cloud-init's
#   growpart). GRUB for BIOS, console on ttyS0, cloud-init with NoCloud first in its datasource list,
#   netplan.io + systemd-networkd + systemd-resolved (no ifupdown), openssh-server without host keys,
#   no root password, an empty machine-id, `cloud-init clean`.
#
# Output: a compressed qcow2 in the cache, named by the first 16 hex digits of this file's sha256, so an
# edit to the recipe builds a new image and a second run finds the old one and does nothing:
#   ${MKIMAGE_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mkimage-e2e}/debian-12-base-<hash>.qcow2
# The path is the last line printed on stdout; progress goes to stderr.
#
# Needs root (loop devices, mount, chroot), debootstrap, sfdisk, mkfs.ext4, qemu-img.
set -euo pipefail

MIRROR="http://deb.debian.org/debian"
SECURITY_MIRROR="http://deb.debian.org/debian-security"
SUITE="bookworm"
DISK_SIZE="3G"

PACKAGES=(
  systemd-sysv udev dbus kmod procps less locales
  linux-image-cloud-amd64 initramfs-tools grub-pc
  cloud-init cloud-guest-utils netplan.io systemd-resolved systemd-timesyncd
  openssh-server sudo python3 ca-certificates curl gnupg iproute2 iputils-ping e2fsprogs
)

log() { printf '[base-image] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

script_path="$(readlink -f "${BASH_SOURCE[0]}")"
recipe_hash="$(sha256sum "$script_path" | cut -c1-16)"
cache_dir="${MKIMAGE_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mkimage-e2e}"
final="$cache_dir/debian-12-base-$recipe_hash.qcow2"

if [[ -f "$final" ]]; then
  log "cached: $final"
  printf '%s\n' "$final"
  exit 0
fi

[[ $EUID -eq 0 ]] || die "must run as root (loop devices, mount, chroot)"
for t in debootstrap sfdisk mkfs.ext4 losetup qemu-img blkid fstrim; do
  command -v "$t" >/dev/null || die "$t is not installed (apt-get install debootstrap fdisk e2fsprogs mount qemu-utils util-linux)"
done

mkdir -p "$cache_dir"
# One builder at a time per cache: a second caller waits, then finds the image.
exec 9>"$cache_dir/.debian-12-base.lock"
flock 9
if [[ -f "$final" ]]; then
  log "cached (built by another run): $final"
  printf '%s\n' "$final"
  exit 0
fi

start=$SECONDS
work="$(mktemp -d "$cache_dir/.build-XXXXXX")"
raw="$work/disk.raw"
mnt="$work/root"
loop=""
uuid_link=""

cleanup() {
  local rc=$?
  set +e
  [[ -n "$uuid_link" ]] && rm -f "$uuid_link"
  rmdir /dev/disk/by-uuid /dev/disk 2>/dev/null
  if [[ -d "$mnt" ]]; then
    for m in dev/pts dev proc sys run; do
      mountpoint -q "$mnt/$m" && umount -l "$mnt/$m"
    done
    mountpoint -q "$mnt" && umount -l "$mnt"
  fi
  if [[ -n "$loop" ]]; then
    partx --delete "$loop" 2>/dev/null
    losetup -d "$loop"
  fi
  rm -rf "$work"
  ((rc != 0)) && log "failed after $((SECONDS - start)) s (exit $rc); nothing was left under $final"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building $final"
truncate -s "$DISK_SIZE" "$raw"
# Like genericcloud: partition 14 is the BIOS boot partition, partition 1 the root that fills the disk.
sfdisk --quiet --label gpt "$raw" <<EOF
${raw}14 : start=2048, size=6144, type=21686148-6449-6E6F-744E-656564454649, name="bios"
${raw}1 : start=8192, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root"
EOF

loop="$(losetup --find --show --partscan "$raw")"
# Some kernels leave partscan off for loop devices; partx adds the partitions (and their nodes) then.
for _ in 1 2 3 4 5 6; do [[ -b "${loop}p1" ]] && break; sleep 0.5; done
[[ -b "${loop}p1" ]] || partx --add "$loop" || true
for _ in 1 2 3 4 5 6; do [[ -b "${loop}p1" ]] && break; sleep 0.5; done
[[ -b "${loop}p1" ]] || die "${loop}p1 did not appear (partscan)"
mkfs.ext4 -q -L root -O ^metadata_csum_seed "${loop}p1"
root_uuid="$(blkid -s UUID -o value "${loop}p1")"

mkdir -p "$mnt"
mount "${loop}p1" "$mnt"

log "debootstrap $SUITE (minbase) from $MIRROR"
debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$mnt" "$MIRROR" >&2

mount -t proc proc "$mnt/proc"
mount -t sysfs sysfs "$mnt/sys"
mount --bind /dev "$mnt/dev"
mount --bind /dev/pts "$mnt/dev/pts"
mount -t tmpfs tmpfs "$mnt/run"

in_root() { LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive chroot "$mnt" "$@"; }

cat >"$mnt/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
EOF

cat >"$mnt/etc/fstab" <<EOF
UUID=$root_uuid / ext4 rw,discard,errors=remount-ro,x-systemd.growfs 0 1
EOF

printf 'localhost\n' >"$mnt/etc/hostname"
cat >"$mnt/etc/hosts" <<'EOF'
127.0.0.1 localhost
::1 localhost ip6-localhost ip6-loopback
ff02::1 ip6-allnodes
ff02::2 ip6-allrouters
EOF

# No daemon may start inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$mnt/usr/sbin/policy-rc.d"
chmod 755 "$mnt/usr/sbin/policy-rc.d"

# grub-pc must not try to install itself during apt; it is installed onto the loop device below.
in_root debconf-set-selections <<'EOF'
grub-pc grub-pc/install_devices multiselect
grub-pc grub-pc/install_devices_empty boolean true
EOF

mkdir -p "$mnt/etc/default"
cat >"$mnt/etc/default/grub" <<'EOF'
GRUB_DEFAULT=0
GRUB_TIMEOUT=0
GRUB_DISTRIBUTOR=Debian
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200"
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --speed=115200"
GRUB_DISABLE_OS_PROBER=true
EOF

log "apt-get install ${PACKAGES[*]}"
# systemd-resolved's postinst points /etc/resolv.conf at its stub, which nothing serves in a chroot:
# every apt step gets the host's resolver again (the image's link is set at the end).
host_dns() { cp --remove-destination /etc/resolv.conf "$mnt/etc/resolv.conf"; }
apt_get() { host_dns; in_root apt-get -q -o Acquire::Retries=3 "$@" >&2; }
apt_get update
apt_get dist-upgrade -y
apt_get install -y --no-install-recommends "${PACKAGES[@]}"

# shellcheck disable=SC2016 # ${Status} is dpkg-query's field, not a shell expansion
if in_root dpkg-query -W -f='${Status}' ifupdown 2>/dev/null | grep -q 'install ok installed'; then
  die "ifupdown got installed; genericcloud networks with netplan + systemd-networkd only"
fi

# cloud-init's locale module sets LANG=en_US.UTF-8 on Debian (update-locale fails unless it is generated).
sed -i 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' "$mnt/etc/locale.gen"
in_root locale-gen >&2
in_root update-locale LANG=C.UTF-8

# cloud-init: NoCloud first (a cidata ISO), ConfigDrive, else None. Debian's cloud.cfg lists netplan first
# among the renderers; pin it so the choice does not depend on detection.
cat >"$mnt/etc/cloud/cloud.cfg.d/90_dpkg.cfg" <<'EOF'
# written by test/e2e/vm/base-image.sh
datasource_list: [ NoCloud, ConfigDrive, None ]
EOF
cat >"$mnt/etc/cloud/cloud.cfg.d/91_e2e_renderer.cfg" <<'EOF'
# written by test/e2e/vm/base-image.sh: netplan (-> systemd-networkd), as on Debian's genericcloud
system_info:
  network:
    renderers: [ netplan ]
    activators: [ netplan ]
EOF

in_root systemctl enable systemd-networkd.service systemd-resolved.service ssh.service >&2
in_root systemctl enable cloud-init-local.service cloud-init.service cloud-config.service cloud-final.service >&2
# Host-side resolv.conf leaks into the image otherwise; systemd-resolved's stub is what genericcloud has.
ln -sf ../run/systemd/resolve/stub-resolv.conf "$mnt/etc/resolv.conf"

log "grub-install (BIOS) on $loop"
in_root grub-install --target=i386-pc --modules="part_gpt ext2" "$loop" >&2
# Without udev there is no /dev/disk/by-uuid, and grub-mkconfig would then write root=/dev/loopNp1.
uuid_link="/dev/disk/by-uuid/$root_uuid"
mkdir -p /dev/disk/by-uuid
ln -sf "${loop}p1" "$uuid_link"
in_root update-grub >&2
rm -f "$uuid_link"
rmdir /dev/disk/by-uuid /dev/disk 2>/dev/null || true
uuid_link=""
grep -q "root=UUID=$root_uuid" "$mnt/boot/grub/grub.cfg" || die "grub.cfg does not boot root=UUID=$root_uuid"
if grep -q '/dev/loop' "$mnt/boot/grub/grub.cfg"; then die "grub.cfg names a loop device"; fi

log "cleaning: root password, machine-id, SSH host keys, cloud-init state, apt caches"
in_root passwd -l root >&2
: >"$mnt/etc/machine-id"
rm -f "$mnt/var/lib/dbus/machine-id"
rm -f "$mnt"/etc/ssh/ssh_host_*
in_root cloud-init clean --logs --seed >&2 || in_root cloud-init clean --logs >&2
in_root apt-get clean
rm -rf "$mnt"/var/lib/apt/lists/* "$mnt"/tmp/* "$mnt"/var/tmp/* "$mnt/usr/sbin/policy-rc.d"
rm -f "$mnt"/var/log/*.log "$mnt"/var/cache/debconf/*-old "$mnt"/var/lib/dpkg/*-old

for m in dev/pts dev proc sys run; do umount "$mnt/$m"; done
fstrim "$mnt" || true
umount "$mnt"
partx --delete "$loop" 2>/dev/null || true
losetup -d "$loop"
loop=""

log "qemu-img convert -c -O qcow2"
qemu-img convert -c -O qcow2 "$raw" "$work/disk.qcow2"
mv "$work/disk.qcow2" "$final"
log "built $final ($(du -h "$final" | cut -f1)) in $((SECONDS - start)) s"
printf '%s\n' "$final"
