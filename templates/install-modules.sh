#!/bin/sh
# corral-template: install-modules
# description: Copy a kernel module tree into the guest's /lib/modules/RELEASE (only what differs), run depmod for it, verify modules.dep
# param: cow                the guest's COW
# param: modules            host directory holding the module tree (e.g. /usr/lib/uml/modules/6.1.176)
# param: release=           kernel release; empty: the last component of --modules
# disk: 1 target cow
# dry-run: boot

[ -n "$release" ] || release=${modules##*/}
root=/run/corral/guest
tree=/run/corral/modules
dest=$root/lib/modules/$release
changes=/run/corral/copied

# One pass: every module of the tree must be a key of modules.dep.
verify() {
    dep=$dest/modules.dep
    [ -s "$dep" ] || { echo "no $dep"; return 1; }
    (cd "$tree" && find . -name '*.ko' -o -name '*.ko.*') | awk -v dep="$dep" '
        BEGIN {
            while ((getline line < dep) > 0) { sub(/:.*/, "", line); listed[line] = 1 }
        }
        {
            sub(/^\.\//, "")
            count++
            if (!($0 in listed)) { print "modules.dep does not list " $0; missing++ }
        }
        END {
            if (missing) exit 1
            print count > "/run/corral/count"
        }'
}

# A dry run (corral maint --dry-run, Ansible's check mode): the COW is
# attached read-only (the kernel opens it O_RDONLY) and mounted ro,noload;
# rsync -n lists what it would copy. Nothing to copy and a modules.dep that
# lists every module is the real run's "already installed".
if [ "$dry_run" = yes ]; then
    step mount -- mount_ro "$disk_cow" "$root"
    step mount-modules -- mount_host "$modules" "$tree"
    if [ -d "$dest" ]; then
        step compare -t 0 -- sh -c 'rsync -a -n --chown=0:0 --omit-dir-times --checksum --itemize-changes \
            --exclude=/modules.dep --exclude=/modules.alias --exclude=/modules.symbols \
            --exclude=/modules.devname --exclude=/modules.softdep --exclude="/modules.*.bin" \
            "$1/" "$2/" > "$3"' - "$tree" "$dest" "$changes"
        changed=$(awk 'END { print NR }' "$changes")
    else
        changed=all
    fi
    if [ "$changed" = 0 ] && verify > /dev/null; then
        read -r count < /run/corral/count
        step umount -- umount "$root"
        unchanged "already installed: /lib/modules/$release has the same $count modules and a current modules.dep"
    elif [ "$changed" = all ]; then
        step umount -- umount "$root"
        note "would create /lib/modules/$release, copy the tree and run depmod"
    elif [ "$changed" = 0 ]; then
        step umount -- umount "$root"
        note "would run depmod: the files are there but modules.dep does not list every module"
    else
        step umount -- umount "$root"
        note "would write $changed files or directories under /lib/modules/$release and run depmod"
    fi
    exit 0
fi

# noatime: reading the guest's files to compare them must not write their inodes.
step mount -- sh -c 'mkdir -p "$2" && mount -o noatime "$1" "$2"' - "$disk_cow" "$root"
step mount-modules -- mount_host "$modules" "$tree"

# Only what differs is written, and in place: rsync compares contents
# (--checksum), skips identical files, and overwrites a changed file's own
# blocks (--inplace) rather than allocating new ones, so a COW grows by what
# really changed. Directory times are not kept (depmod changes the top one,
# so a re-run would always find it different); depmod's own outputs are
# left out: depmod makes them below. The guest's modules are root's
# (--chown=0:0), whoever the host files show as: a host directory beside a
# disk is an idmapped mount that shows root's files as the kernel's own
# per-boot uid, which -a would otherwise copy into the guest.
copy() {
    mkdir -p "$dest" &&
        rsync -a --chown=0:0 --omit-dir-times --checksum --inplace --itemize-changes \
            --exclude=/modules.dep --exclude=/modules.alias --exclude=/modules.symbols \
            --exclude=/modules.devname --exclude=/modules.softdep --exclude='/modules.*.bin' \
            "$tree/" "$dest/" > "$changes"
}
step copy -t 0 -- copy
changed=$(awk 'END { print NR }' "$changes")

# depmod writes every index anew (new files, new blocks), so it runs only
# when the tree changed or its index is missing.
if [ "$changed" -gt 0 ] || [ ! -s "$dest/modules.dep" ]; then
    step depmod -- depmod -b "$root" "$release"
    depmod_ran=yes
fi

step verify -- verify
read -r count < /run/corral/count
step umount -- umount "$root"
if [ -z "${depmod_ran-}" ]; then
    unchanged "already installed: /lib/modules/$release has the same $count modules; nothing written"
else
    note "installed $count modules into /lib/modules/$release ($changed files or directories written or updated); modules.dep lists every one"
fi
