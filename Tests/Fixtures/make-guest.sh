#!/bin/sh
# make-guest.sh IMAGE — a Debian bookworm minbase guest as an ext4 image, for
# the real-guest tests (Tests/GuestTests).
#
# debootstrap --variant=minbase from the Debian mirror this machine's apt is
# configured with (deb822 /etc/apt/sources.list.d/debian.sources, else
# /etc/apt/sources.list), into a tree beside IMAGE, then mkfs.ext4 -d. Both
# are cached: a second run with IMAGE present does nothing (delete IMAGE to
# rebuild it; delete the tree too for a fresh debootstrap). Needs root and
# debootstrap (make deps installs it).
#
# The image: 1 GiB ext4 (minbase plus kmod, for modprobe in the guest, is
# ~170 MiB; room for a module tree and a
# .deb), label corral-guest, no /sbin/init (minbase has none), hostname
# "corral-guest". Tests copy it; they never write it.
set -eu

image=${1:?usage: make-guest.sh IMAGE}
suite=${CORRAL_GUEST_SUITE:-bookworm}
size=${CORRAL_GUEST_SIZE:-1G}
tree=$image.tree

[ -s "$image" ] && exit 0

mirror() {
    sources=/etc/apt/sources.list.d/debian.sources
    if [ -r "$sources" ]; then
        # The URIs of the first stanza whose Suites include $suite.
        awk -v suite="$suite" '
            /^[ \t]*$/ { if (uri != "" && hit) { print uri; exit } uri = ""; hit = 0; next }
            /^URIs:/ { uri = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) hit = 1 }
            END { if (uri != "" && hit) print uri }' "$sources" | head -n 1
        return
    fi
    awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2; exit }' /etc/apt/sources.list 2>/dev/null
}

url=${CORRAL_GUEST_MIRROR:-$(mirror)}
[ -n "$url" ] || { echo "make-guest.sh: no Debian mirror for $suite in apt's sources; set CORRAL_GUEST_MIRROR" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "make-guest.sh: debootstrap is not installed (make deps installs it)" >&2; exit 1; }

mkdir -p "${image%/*}"
if [ ! -e "$tree/.corral-complete" ]; then
    rm -rf "$tree"
    debootstrap --variant=minbase --include=kmod "$suite" "$tree" "$url" >"$tree.log" 2>&1 || {
        tail -n 20 "$tree.log" >&2
        echo "make-guest.sh: debootstrap failed (log: $tree.log)" >&2
        exit 1
    }
    # Package lists and downloaded .debs are not part of a guest.
    rm -rf "$tree"/var/cache/apt/archives/*.deb "$tree"/var/lib/apt/lists/*
    echo corral-guest > "$tree/etc/hostname"
    : > "$tree/.corral-complete"
fi

partial=$image.partial
rm -f "$partial"
mkfs.ext4 -q -F -L corral-guest -E root_owner=0:0 -d "$tree" "$partial" "$size"
# The marker is for this script only; the guest does not need it.
debugfs -w -R "rm /.corral-complete" "$partial" >/dev/null 2>&1 || true
mv "$partial" "$image"
