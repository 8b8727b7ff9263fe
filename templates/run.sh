#!/bin/sh
# corral-template: run
# description: Run any command in the guest with the disks attached (and mounted where asked); its exit status is passed through
# param: command            the command (sh -c)
# param: mounts=            space-separated DEVICE:DIR[:ro] pairs to mount first
# param: timeout=0          seconds the command may run (0: no limit)

for m in $mounts; do
    dev=${m%%:*}
    rest=${m#*:}
    dir=${rest%%:*}
    if [ "$rest" != "$dir" ]; then
        step "mount-$dev" -- mount_ro "/dev/$dev" "$dir"
    else
        step "mount-$dev" -- sh -c 'mkdir -p "$2" && mount "$1" "$2"' - "/dev/$dev" "$dir"
    fi
done
step run -t "$timeout" -- /bin/sh -c "$command"
for m in $mounts; do
    rest=${m#*:}
    step "umount-${m%%:*}" -- umount "${rest%%:*}"
done
