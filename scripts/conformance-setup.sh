#!/usr/bin/env bash
# npm run conformance:setup: what `foliostorm conform` needs, on Debian: qemu-system-x86, cpio,
# zstd, gcc and static libc (apt), the Debian 6.12 cloud kernel in the cache
# ($FOLIOSTORM_CACHE, else ~/.cache/foliostorm; the host's /boot is not touched), and the executor
# (vm/build.sh); for files with write notify, ext4 over a loop device: the kernel's loop module
# (decompressed, $CACHE/kernel/loop.ko) and an empty ext4 image ($CACHE/ext4.img, mke2fs from
# e2fsprogs). Safe to run again: it does only what is missing. Exit 2 where apt is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS=(qemu-system-x86 cpio zstd gcc libc6-dev e2fsprogs xz-utils)
WANT_KERNEL=linux-image-6.12.118+deb12-cloud-amd64
CACHE="${FOLIOSTORM_CACHE:-$HOME/.cache/foliostorm}"

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then
  echo "conformance:setup: no apt-get/dpkg here (not Debian): install qemu-system-x86_64, cpio, zstd, gcc and a static libc," >&2
  echo "  put a 6.12 bzImage at $CACHE/kernel/vmlinuz (or pass --kernel PATH to conform), and run: bash vm/build.sh" >&2
  exit 2
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "conformance:setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y -q "${missing[@]}" >/dev/null
fi

if [ ! -s "$CACHE/kernel/vmlinuz" ]; then
  pkg="$WANT_KERNEL"
  if ! apt-cache show "$pkg" >/dev/null 2>&1; then
    # the archive moved on: the newest 6.12 cloud image it has
    $SUDO apt-get update -q >/dev/null || true
    if ! apt-cache show "$pkg" >/dev/null 2>&1; then
      pkg=$(apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-cloud-amd64$' | awk '{print $1}' | sort -V | tail -1)
      [ -n "$pkg" ] || { echo "conformance:setup: no linux-image-6.12.*-cloud-amd64 in the apt sources" >&2; exit 2; }
      echo "conformance:setup: $WANT_KERNEL is not in the archive; using $pkg"
    fi
  fi
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "conformance:setup: fetching $pkg into $CACHE/kernel"
  (cd "$tmp" && apt-get download "$pkg" >/dev/null 2>&1 && dpkg-deb -x ./*.deb x)
  mkdir -p "$CACHE/kernel"
  cp "$tmp"/x/boot/vmlinuz-* "$CACHE/kernel/vmlinuz.tmp" && mv "$CACHE/kernel/vmlinuz.tmp" "$CACHE/kernel/vmlinuz"
  cp "$tmp"/x/boot/config-* "$CACHE/kernel/config"
  echo "$pkg" > "$CACHE/kernel/package"
fi

# the loop driver of the cached kernel (a module in Debian's), for ext4 over a loop device; a
# kernel with it built in needs none (config CONFIG_BLK_DEV_LOOP=y)
if [ ! -s "$CACHE/kernel/loop.ko" ] && ! grep -qs '^CONFIG_BLK_DEV_LOOP=y' "$CACHE/kernel/config"; then
  pkg=$(cat "$CACHE/kernel/package" 2>/dev/null || echo "$WANT_KERNEL")
  tmp2=$(mktemp -d)
  echo "conformance:setup: fetching the loop module of $pkg into $CACHE/kernel"
  (cd "$tmp2" && apt-get download "$pkg" >/dev/null 2>&1 && dpkg-deb -x ./*.deb x)
  ko=$(find "$tmp2/x/lib/modules" -name 'loop.ko*' | head -1)
  [ -n "$ko" ] || { echo "conformance:setup: no loop.ko in $pkg" >&2; rm -rf "$tmp2"; exit 2; }
  case "$ko" in
    *.xz) xz -dc "$ko" > "$CACHE/kernel/loop.ko.tmp" ;;
    *.zst) zstd -qdc "$ko" > "$CACHE/kernel/loop.ko.tmp" ;;
    *) cp "$ko" "$CACHE/kernel/loop.ko.tmp" ;;
  esac
  mv "$CACHE/kernel/loop.ko.tmp" "$CACHE/kernel/loop.ko"
  [ -s "$CACHE/kernel/config" ] || cp "$tmp2"/x/boot/config-* "$CACHE/kernel/config"
  rm -rf "$tmp2"
fi

# an empty ext4 file system: conform puts it in the initramfs of a boot that maps write-notify files
if [ ! -s "$CACHE/ext4.img" ]; then
  PATH="$PATH:/sbin:/usr/sbin"
  mke2fs -q -F -t ext4 -b 4096 -L foliostorm "$CACHE/ext4.img.tmp" 16M
  mv "$CACHE/ext4.img.tmp" "$CACHE/ext4.img"
fi

bash vm/build.sh
echo "conformance:setup: ready (kernel $(cat "$CACHE/kernel/package" 2>/dev/null || echo "$CACHE/kernel/vmlinuz"))"
