#!/bin/sh
# corral-template: install-modules
# description: Copy a kernel module tree into the guest's /lib/modules/RELEASE, run depmod for it, verify modules.dep
# param: cow                the guest's COW
# param: modules            host directory holding the module tree (e.g. /usr/lib/uml/modules/6.1.176)
# param: release=           kernel release; empty: the last component of --modules
# disk: 1 target cow

[ -n "$release" ] || release=${modules##*/}
root=/run/corral/guest
tree=/run/corral/modules

step mount-modules -- mount_host "$modules" "$tree"

# Already installed: every file of the tree is in the guest with the same
# bytes, and modules.dep lists every module. Checked on a read-only mount,
# so the disk stays as it was and corral reports changed: false.
current() {
    dir="$root/lib/modules/$release"
    dep="$dir/modules.dep"
    [ -s "$dep" ] || return 1
    (cd "$tree" && find . -type f) | while IFS= read -r file; do
        cmp -s "$tree/$file" "$dir/$file" || exit 1
    done || return 1
    for ko in $(cd "$tree" && find . -name '*.ko' -o -name '*.ko.*'); do
        grep -q "^${ko#./}:" "$dep" || return 1
    done
}
step look -- mount_ro "$disk_cow" "$root"
if current; then
    step umount-ro -- umount "$root"
    note "already installed: /lib/modules/$release holds the same tree and modules.dep lists every module"
    exit 0
fi
step umount-ro -- umount "$root"
step mount -- sh -c 'mkdir -p "$2" && mount "$1" "$2"' - "$disk_cow" "$root"
step copy -t 0 -- sh -c 'mkdir -p "$1/lib/modules/$2" && cp -a "$3/." "$1/lib/modules/$2/"' - "$root" "$release" "$tree"
step depmod -- depmod -b "$root" "$release"

verify() {
    dep="$root/lib/modules/$release/modules.dep"
    [ -s "$dep" ] || { echo "no $dep"; return 1; }
    missing=0
    count=0
    for ko in $(cd "$tree" && find . -name '*.ko' -o -name '*.ko.*'); do
        count=$((count + 1))
        grep -q "^${ko#./}:" "$dep" || { echo "modules.dep does not list ${ko#./}"; missing=$((missing + 1)); }
    done
    [ "$missing" -eq 0 ] || return 1
    note "installed $count modules into /lib/modules/$release; modules.dep lists every one"
}
step verify -- verify
step umount -- umount "$root"
