# corral maint: the step protocol, sourced before every template body.
#
# corral reads the step nonce from /run/corral-job/nonce (a file in the
# job directory, not the kernel command line, so nothing in the guest can
# read it from /proc/cmdline); the host deletes that file as soon as it sees
# READY, before the first step runs. Lines that start with
# "CORRAL-<nonce> " are the only ones the host believes:
#   CORRAL-<nonce> READY
#   CORRAL-<nonce> STEP <name> BEGIN <timeout: seconds, 0 = none, default>
#   CORRAL-<nonce> STEP <name> EXIT <status>
#   CORRAL-<nonce> NOTE <text>            (goes into the job's summary)
#   CORRAL-<nonce> UNCHANGED <text>       (nothing to do: keep the disks as they were)
#   CORRAL-<nonce> DONE <status>          (the job script's own end)
# Kernel messages and file contents printed on the console cannot forge
# them without the nonce. Each marker goes out as one write of
# "\n<marker>\n", hostfs-init's own START/EXIT too: the line break before it
# puts it at a line start whatever the output before it ended with, and the
# host removes exactly those two line breaks, so the output between markers
# reaches the host byte for byte.

# `read`, not `cat`: a builtin, so no program start (0.05-0.1 s under UML).
read -r corral_nonce_value < /run/corral-job/nonce || [ -n "$corral_nonce_value" ] || exit 250
# corral_marker WORDS...: one marker line, framed as above, in one printf
# (one write), its words joined by spaces whatever IFS the template set.
corral_marker() {
    corral_marker_line="CORRAL-$corral_nonce_value"
    for corral_marker_word; do corral_marker_line="$corral_marker_line $corral_marker_word"; done
    printf '\n%s\n' "$corral_marker_line"
}
corral_marker READY
# The host believes a job finished only from this line: hostfs-init's own
# EXIT marker carries a nonce that is on the kernel command line.
trap 'corral_marker DONE "$?"' EXIT

# step NAME [-t SECONDS] -- CMD ARGS...   (-t 0: no limit; default: --step-timeout)
# Runs CMD (stdin from /dev/null) between BEGIN and EXIT markers; a non-zero
# status ends the job with that status, so the host names this step.
step() {
    corral_step_name=$1
    shift
    corral_step_timeout=default
    if [ "$1" = "-t" ]; then
        corral_step_timeout=$2
        shift 2
    fi
    [ "$1" = "--" ] && shift
    corral_marker STEP "$corral_step_name" BEGIN "$corral_step_timeout"
    "$@" < /dev/null
    corral_step_status=$?
    corral_marker STEP "$corral_step_name" EXIT "$corral_step_status"
    [ "$corral_step_status" -eq 0 ] || exit "$corral_step_status"
}

# note TEXT...: one line for the job's summary ("what changed").
note() {
    corral_marker NOTE "$*"
}

# unchanged TEXT...: the job found nothing to change (say why in TEXT, e.g.
# "already installed"). corral then commits no disk: the user's files stay
# exactly as they were, and the report says "changed": false.
unchanged() {
    corral_marker UNCHANGED "$*"
}

# mount_ro DEVICE DIR: read-only, without journal replay where the
# filesystem knows the option (a read-only disk cannot be replayed into).
mount_ro() {
    mkdir -p "$2" && { mount -o ro,noload "$1" "$2" 2>/dev/null || mount -o ro "$1" "$2"; }
}

# mount_host HOSTDIR DIR: a host directory, read-only, through hostfs.
mount_host() {
    mkdir -p "$2" && mount -t hostfs -o ro,"$1" none "$2"
}
