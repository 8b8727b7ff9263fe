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

step mount -- sh -c 'mkdir -p "$2" && mount "$1" "$2"' - "$disk_cow" "$root"
step mount-modules -- mount_host "$modules" "$tree"
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
