#!/bin/sh
# corral-template: fsck
# description: Check a guest's filesystem with e2fsck (-n, or -fy with --repair) and explain its exit code
# param: cow                the guest's COW (or raw image)
# param: repair=no          yes: repair (e2fsck -fy) on a copy that replaces the COW only if it succeeds
# disk: 1 source cow writable-if=repair

# e2fsck's exit code is a bit mask (e2fsck(8)); 1 and 2 mean fixed.
explain() {
    code=$1
    [ "$code" -eq 0 ] && { note "e2fsck: no errors"; return 0; }
    [ $((code & 1)) -ne 0 ] && note "e2fsck: errors were corrected"
    [ $((code & 2)) -ne 0 ] && note "e2fsck: errors were corrected; the guest should be rebooted if it was running"
    [ $((code & 4)) -ne 0 ] && note "e2fsck: errors left uncorrected (run with --repair)"
    [ $((code & 8)) -ne 0 ] && note "e2fsck: operational error"
    [ $((code & 16)) -ne 0 ] && note "e2fsck: usage or syntax error"
    [ $((code & 32)) -ne 0 ] && note "e2fsck: cancelled by request"
    [ $((code & 128)) -ne 0 ] && note "e2fsck: shared-library error"
    [ $((code & ~3)) -eq 0 ]
}

check() {
    if [ "$repair" = yes ]; then
        e2fsck -fy "$disk_cow"
    else
        e2fsck -fn "$disk_cow"
    fi
    status=$?
    explain "$status" || return "$status"
}

step e2fsck -t 0 -- check
