#!/bin/sh
# corral-template: rebuild-cow
# description: Rebuild a COW over a common backing from a guest's flat image (filesystem level, rsync); see corral cow from-image for block-related images
# param: image              the guest's flat image
# param: backing            the common backing the new COW goes over
# param: output             the new COW
# disk: 1 source image
# disk: 2 output output cow-over=backing

src=/run/corral/src
dst=/run/corral/dst

step mount -- mount_ro "$disk_image" "$src"
step mount-output -- sh -c 'mkdir -p "$2" && mount "$1" "$2"' - "$disk_output" "$dst"
# --checksum: the output starts as a copy of the backing, so a file the guest
# changed within the same second, to the same size, passes rsync's size+mtime
# quick check (1 KiB-block ext4 keeps whole-second times) and would be skipped.
step rsync -t 0 -- rsync -aHAXS --checksum --numeric-ids --delete "$src/" "$dst/"
step umount -- umount "$dst" "$src"
note "route: filesystem level (boot, rsync into a copy of the backing, then corral's from-image keeps only the pages that differ); when the image is block-related to the backing (a flatten of a COW over it), corral cow from-image --backing BACKING IMAGE COW gives the same without a boot, faster"
