#!/usr/bin/env bash
# A Debian bookworm base image made on this machine, for building the LatentCT images where no image registry is
# reachable (only Debian's package archive): debootstrap --variant=minbase with python3 + venv, imported into podman.
#
#   scripts/build_base_image.sh                      # -> localhost/debian-base:bookworm (skips what already exists)
#   BASE_IMAGE=localhost/x:y BASE_CACHE=/path/base.tar DEBIAN_MIRROR=http://... scripts/build_base_image.sh
#
# Reuse, cheapest first: the image already in podman's storage; the root file system tarball kept in BASE_CACHE
# (default /var/cache/latentct/debian-base-bookworm.tar) from an earlier run; else debootstrap (a few minutes).
# The mirror is the one apt on this machine uses (/etc/apt/sources.list{,.d}) unless DEBIAN_MIRROR names one.
set -euo pipefail

IMAGE=${BASE_IMAGE:-localhost/debian-base:bookworm}
CACHE=${BASE_CACHE:-/var/cache/latentct/debian-base-bookworm.tar}
SUITE=bookworm
PACKAGES=python3,python3-venv,ca-certificates

if podman image exists "$IMAGE"; then
  echo "base image $IMAGE: already there"
  exit 0
fi

if [ ! -s "$CACHE" ]; then
  mirror=${DEBIAN_MIRROR:-}
  if [ -z "$mirror" ]; then
    # deb822 sources (URIs: ...) or the one-line form (deb URL bookworm main); the first Debian archive that serves the suite
    mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {print $2}' | grep -v -- '-security' | head -n1 || true)
  fi
  if [ -z "$mirror" ]; then
    mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | awk -v s="$SUITE" '$1 == "deb" && $3 == s {print $2}' | head -n1 || true)
  fi
  [ -n "$mirror" ] || { echo "error: no Debian mirror found in the apt configuration; set DEBIAN_MIRROR" >&2; exit 1; }
  command -v debootstrap >/dev/null || { echo "error: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }

  root=$(mktemp -d /var/tmp/debian-base.XXXXXX)
  trap 'rm -rf "$root"' EXIT
  echo "debootstrap $SUITE (minbase, + $PACKAGES) from the apt mirror into $root"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$mirror" >"$root.log" 2>&1 \
    || { tail -n 30 "$root.log" >&2; exit 1; }
  rm -f "$root.log"
  # what an image does not need: downloaded packages, apt lists, docs and man pages, logs
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log "$root"/var/cache/debconf/*-old
  # apt in derived images: no recommends, no docs kept
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$root"/etc/apt/apt.conf.d/90-no-recommends
  mkdir -p "$(dirname "$CACHE")"
  tar --numeric-owner -C "$root" -cf "$CACHE.part" .
  mv "$CACHE.part" "$CACHE"
fi

echo "importing $CACHE as $IMAGE"
podman import --quiet --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' "$CACHE" "$IMAGE" >/dev/null
podman image exists "$IMAGE"
echo "base image $IMAGE: $(podman image inspect --format '{{.Size}}' "$IMAGE") bytes"
