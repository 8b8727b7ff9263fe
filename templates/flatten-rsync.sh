#!/bin/sh
# corral-template: flatten-rsync
# description: Flatten a COW at the filesystem level: mount its view read-only, rsync it into a new image, fsck -n the result
# param: cow                COW file to flatten (its backing comes from the header)
# param: output             the flat image to write (created like the source when it does not exist)
# param: force=no           yes: reuse an existing output (rsync --delete into a copy of it)
# disk: 1 source cow
# disk: 2 output output size-of=cow force=force

src=/run/corral/src
dst=/run/corral/dst

step probe -- mount_ro "$disk_cow" "$src"
fstype=$(awk -v d="$src" '$2 == d { print $3 }' /proc/mounts)
umount "$src"
if [ "$new_output" = yes ]; then
    # The new filesystem is the source's in all a guest may name or depend
    # on: UUID and label (an fstab or root= by UUID=/LABEL= must still find
    # it), block size, inode size, features and directory hash seed.
    set -- -t "$fstype"
    case $fstype in
    ext2|ext3|ext4)
        info=$(dumpe2fs -h "$disk_cow" 2>/dev/null)
        field() { printf '%s\n' "$info" | sed -n "s/^$1:[[:space:]]*//p" | head -n 1; }
        uuid=$(field 'Filesystem UUID')
        label=$(field 'Filesystem volume name')
        block=$(field 'Block size')
        isize=$(field 'Inode size')
        seed=$(field 'Directory Hash Seed')
        # needs_recovery and orphan_present are states of a mounted
        # filesystem, not features one can make.
        features=$(printf '%s\n' "$(field 'Filesystem features')" | tr ' ' '\n' |
            grep -v -x -e needs_recovery -e orphan_present -e '' | paste -s -d, -)
        [ -n "$uuid" ] && set -- "$@" -U "$uuid"
        [ "$label" = "<none>" ] && label=
        [ -n "$label" ] && set -- "$@" -L "$label"
        [ -n "$block" ] && set -- "$@" -b "$block"
        [ -n "$isize" ] && set -- "$@" -I "$isize"
        [ -n "$features" ] && set -- "$@" -O "none,$features"
        [ -n "$seed" ] && set -- "$@" -E "hash_seed=$seed"
        set -- "$@" -q -F
        ;;
    esac
    step mkfs -- mkfs "$@" "$disk_output"
    note "made a new $fstype filesystem on the output${uuid:+ with the source's UUID $uuid}${label:+, label '$label'}, block size, inode size and features"
fi
step mount -- mount_ro "$disk_cow" "$src"
step mount-output -- sh -c 'mkdir -p "$2" && mount "$1" "$2"' - "$disk_output" "$dst"
step rsync -t 0 -- rsync -aHAXS --numeric-ids --delete "$src/" "$dst/"
step umount -- umount "$dst" "$src"
step fsck -- fsck -n -f "$disk_output"
note "copied the $fstype tree of the COW into the output with rsync -aHAXS"
