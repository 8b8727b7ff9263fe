#!/bin/sh
# Init script for the UML guest that dirties a benchmark disk (/dev/ubdb) through the real
# kernel, so the COW file is written exactly as UML writes it (cow-format.md §3.4).
# Parameters arrive as environment variables from the kernel command line:
#   BENCH_MNT          host directory (seen through hostfs) to mount /dev/ubdb on
#   BENCH_REWRITE_MIB  MiB of existing file data to overwrite in place with random bytes
#   BENCH_NEW_MIB      MiB of new random files to create
#   BENCH_TMP          host directory for a scratch file list
# It prints BENCH-GUEST-DONE on success. As init it must not exit: it powers off and sleeps.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc 2>/dev/null

finish() { sync; echo o > /proc/sysrq-trigger; sleep 10; }

run() {
  mnt=${BENCH_MNT:?}; rewrite=$(( ${BENCH_REWRITE_MIB:-0} * 1048576 )); new=$(( ${BENCH_NEW_MIB:-0} * 1048576 ))
  # noinit_itable: keep the kernel's lazy inode-table zeroing out of the COW
  mount -t ext4 -o noinit_itable /dev/ubdb "$mnt" || { echo "BENCH-GUEST-FAIL mount"; return 1; }

  # 1. overwrite existing files in place with random bytes (whole 4 KiB blocks inside each
  #    file), biggest files first: ext4 rewrites the same blocks, so this dirties the backing's data
  done_b=0
  if [ "$rewrite" -gt 0 ]; then
    list=${BENCH_TMP:?}/rewrite-list
    find "$mnt" -xdev -type f -size +4k -printf '%s %p\n' | LC_ALL=C sort -k1,1nr -k2 > "$list"
    while read -r sz f; do
      [ "$done_b" -ge "$rewrite" ] && break
      blocks=$(( sz / 4096 )); left=$(( (rewrite - done_b + 4095) / 4096 ))
      [ "$blocks" -gt "$left" ] && blocks=$left
      dd if=/dev/urandom of="$f" bs=4096 count="$blocks" conv=notrunc status=none || continue
      done_b=$(( done_b + blocks * 4096 ))
    done < "$list"
  fi
  echo "BENCH-GUEST rewrote $done_b bytes in place"

  # 2. new files of random data, 16 MiB each
  made=0; i=0
  if [ "$new" -gt 0 ]; then
    mkdir -p "$mnt/bench-new"
    while [ "$made" -lt "$new" ]; do
      mib=$(( (new - made + 1048575) / 1048576 )); [ "$mib" -gt 16 ] && mib=16
      dd if=/dev/urandom of="$mnt/bench-new/f$i" bs=1M count="$mib" status=none || { echo "BENCH-GUEST-FAIL write"; break; }
      made=$(( made + mib * 1048576 )); i=$(( i + 1 ))
    done
  fi
  echo "BENCH-GUEST wrote $made bytes of new files"
  sync
  umount "$mnt" || { echo "BENCH-GUEST-FAIL umount"; return 1; }
  echo "BENCH-GUEST-DONE"
}

run
finish
