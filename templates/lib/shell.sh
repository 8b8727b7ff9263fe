# corral maint shell: the rescue shell's guest script, run after
# lib/steps.sh (for mount_ro) with that library's markers silenced: a shell
# has no steps to report.
#
# corral_mounts: one "MODE DEVICE DIR" line per --mount (MODE ro or rw).
# A shell starts only if every mount worked (a shell over a missing mount
# would let the user "fix" the wrong tree); otherwise the script ends with
# corral_no_shell, which corral reports as "no shell started". Any other
# non-zero status drops the changes to writable disks.
corral_failed=
corral_umounts=
while read -r corral_mode corral_device corral_dir; do
    [ -n "$corral_device" ] || continue
    if [ "$corral_mode" = ro ]; then
        mount_ro "$corral_device" "$corral_dir"
    else
        mkdir -p "$corral_dir" && { mount "$corral_device" "$corral_dir" || mount -o ro "$corral_device" "$corral_dir"; }
    fi && echo "corral: $corral_device on $corral_dir" \
        || { echo "corral: cannot mount $corral_device on $corral_dir; no shell started"; corral_failed=1; }
    corral_umounts="$corral_dir
$corral_umounts"
done <<corral_end
$corral_mounts
corral_end

if [ -z "$corral_failed" ]; then
    echo 'corral: exit 0 keeps the changes to writable disks; exit 1 drops them'
    # Not exec: the disks are unmounted cleanly after the shell ends.
    /bin/sh -i
    corral_status=$?
else
    corral_status=$corral_no_shell
fi
while read -r corral_dir; do
    [ -n "$corral_dir" ] && umount "$corral_dir" 2>/dev/null
done <<corral_end
$corral_umounts
corral_end
exit $corral_status
