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
    mkfs_opts=
    case $fstype in
    ext2|ext3|ext4)
        block=$(dumpe2fs -h "$disk_cow" 2>/dev/null | awk -F: '/^Block size/ { gsub(/ /, "", $2); print $2 }')
        [ -n "$block" ] && mkfs_opts="-b $block"
        mkfs_opts="$mkfs_opts -q"
        ;;
    esac
    # shellcheck disable=SC2086
    step mkfs -- mkfs -t "$fstype" $mkfs_opts "$disk_output"
    note "made a new $fstype filesystem on the output"
fi
step mount -- mount_ro "$disk_cow" "$src"
step mount-output -- sh -c 'mkdir -p "$2" && mount "$1" "$2"' - "$disk_output" "$dst"
step rsync -t 0 -- rsync -aHAXS --numeric-ids --delete "$src/" "$dst/"
step umount -- umount "$dst" "$src"
step fsck -- fsck -n -f "$disk_output"
note "copied the $fstype tree of the COW into the output with rsync -aHAXS"
