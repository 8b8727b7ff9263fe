#!/bin/bash
# make-vectors.sh OUTDIR
#
# Builds UML COW test vectors with the real kernel ($CORRAL_UML_KERNEL, else
# /usr/bin/linux.uml; the tests pass the kernel under test), following
# cow-format.md section 7: V1..V5 written by the kernel, plus re-encodings of V1 in
# every other layout (section 7.2) that the kernel must read back unchanged.
#
# Every guest view is dumped inside the guest with O_DIRECT 4 KiB reads: the 6.1
# kernel returns shifted data for multi-page reads of COW devices (section 4.7-A).
#
# Output: OUTDIR/manifest.tsv, one vector per line (columns in the header line):
#   name layout align size cow backing guestview moo expected_sha256
# "guestview" is the guest's O_DIRECT dump of the whole device ("-" for V4, which is
# too big to dump; see v4_regions.tsv), "moo" is uml_moo's merge ("-" if skipped),
# "expected_sha256" is the hash of the correct S-byte merge (from the spec where the
# spec fixes it). OUTDIR/v4_regions.tsv lists byte ranges of V4 dumped by the guest.
#
# Exit status 0 only if every check passed. Set CORRAL_VECTORS_MOO_V4=0 to skip
# the slow uml_moo merge of the 5 GiB vector.
#
# OUTDIR must be on a local filesystem that supports sparse files (~6 GiB apparent,
# a few MiB real) and is reachable from the guest at the same absolute path
# (the guest's root is the host's / through hostfs).
set -u -o pipefail
export PATH="$PATH:/usr/sbin:/sbin"   # mkfs.ext4, debugfs, blkdiscard for non-root users

OUT=$(mkdir -p "${1:?usage: make-vectors.sh OUTDIR}" && cd "$1" && pwd -P) || exit 2
HERE=$(cd "$(dirname "$0")" && pwd -P)
KERNEL=${CORRAL_UML_KERNEL:-/usr/bin/linux.uml}
MOO_V4=${CORRAL_VECTORS_MOO_V4:-1}
STAMP='2024-01-01 00:00:00 UTC'   # header mtime 1704067200
cd "$OUT" || exit 2
rm -rf "$OUT/.uml" && mkdir -p "$OUT/.uml"

# Vectors are built in two parallel lanes (subshells), so failures and manifest rows
# go through files: one line per failure, one row file per vector.
rm -f "$OUT/.failures" "$OUT"/.row.*
log() { printf '%s\n' "$*" >&2; }
pass() { log "ok    $*"; }
fail() { log "FAIL  $*"; echo "$*" >> "$OUT/.failures"; }

for tool in "$KERNEL" uml_moo python3 mkfs.ext4 debugfs blkdiscard timeout; do
  command -v "$tool" >/dev/null || { log "make-vectors: missing $tool"; exit 2; }
done

# Backing pattern: sector i holds "back:" + i as 12 zero-padded digits + ":",
# repeated and cut to 512 bytes; the file is cut to SIZE bytes.
make_pattern() {
  python3 - "$1" "$2" <<'PY'
import sys
path, size = sys.argv[1], int(sys.argv[2])
with open(path, "wb") as f:
    sector = 0
    while sector * 512 < size:
        unit = b"back:%012d:" % sector
        block = (unit * (512 // len(unit) + 1))[:512]
        f.write(block[: size - sector * 512])
        sector += 1
PY
}

# Helpers sourced by every guest script. Disk device defaults to /dev/ubdb (ubd1).
cat > "$OUT/guest-lib.sh" <<'G'
# put CHAR|zero SECTOR COUNT [DEV]: O_DIRECT write of COUNT sectors of CHAR at SECTOR
put() {
  if [ "$1" = zero ]; then dd if=/dev/zero bs=512 count="$3" 2>/dev/null
  else dd if=/dev/zero bs=512 count="$3" 2>/dev/null | tr '\0' "$1"; fi |
    dd of="${4:-/dev/ubdb}" bs=512 seek="$2" count="$3" iflag=fullblock oflag=direct conv=notrunc 2>/dev/null
}
# dump FILE [DEV] [SKIP COUNT]: O_DIRECT 4 KiB reads of the device (or of COUNT pages at SKIP)
dump() {
  if [ $# -ge 4 ]; then
    dd if="${2:-/dev/ubdb}" of="$1" bs=4096 skip="$3" count="$4" iflag=direct 2>/dev/null
  else
    dd if="${2:-/dev/ubdb}" of="$1" bs=4096 iflag=direct 2>/dev/null
  fi
}
G

# boot NAME GUESTSCRIPT UBDARGS... : one UML boot that runs GUESTSCRIPT, then powers off.
boot() {
  local name=$1 script=$2; shift 2
  local init="$OUT/.init-$name.sh"
  {
    echo '#!/bin/sh'
    echo 'PATH=/usr/sbin:/usr/bin:/sbin:/bin; export PATH'
    echo 'mount -t proc proc /proc'
    echo ". '$OUT/guest-lib.sh'"
    echo ". '$script'"
    echo 'sync; echo o > /proc/sysrq-trigger; sleep 10'
  } > "$init"
  chmod +x "$init"
  timeout 300 "$KERNEL" mem=256M rootfstype=hostfs rootflags=/ rw init="$init" \
    uml_dir="$OUT/.uml" umid="$name" "$@" con=null con0=null,fd:1 \
    </dev/null >"$OUT/$name.log" 2>&1
  local rc=$?
  rm -f "$init"
  [ $rc -eq 0 ] || log "boot $name: linux.uml exited $rc (see $name.log)"
}

# hashlib is ~7x faster than sha256sum here and skips reading holes (5 GiB vectors)
digest() { python3 "$HERE/sha256.py" "$1"; }
digest_head() { python3 "$HERE/sha256.py" "$1" "$2"; }
expect_hash() { # expect_hash LABEL ACTUAL WANTED
  if [ "$2" = "$3" ]; then pass "$1 $2"; else fail "$1: got $2, want $3"; fi
}

MANIFEST="$OUT/manifest.tsv"
row() { local IFS=$'\t'; printf '%s\n' "$*" > "$OUT/.row.$1"; }

SPEC_V1=555fa39bd65c1cde09688e157b0703c5e6c00d8bf062c2ff2eae5d8070d3d0e2
SPEC_V2=378041e793ecbf17954f2d44cd82de612fbd9b1aa85c7559226ac8bba5d8d64f
SPEC_V2_MOO=3fe73cfdbe1eb20a46e2e6df9bd1c52bc1bd929e058e04befe58130ebbdebd9f
SPEC_V3=5e0a694da6030e1b787bcabca68a0d384678acdbbd230ed45869ea92ca077fe8
SPEC_V4=cf7c2afe237ff91f525b0f601c3909fe6d62b12748f688fd6cab3c9fd97156ee

vector_v1() {
# ---- V1: 8 MiB, scattered single- and multi-sector writes, one zero sector
make_pattern v1_back.img 8388608 && touch -d "$STAMP" v1_back.img
expect_hash "v1 backing" "$(digest v1_back.img)" 89d3e83660f772cf15c3f6ff70e2c0a07ba363fdde4d3f8fcc9a9bc1157dd013
cat > v1_guest.sh <<G
put A 0 1; put B 100 8; put zero 1000 1; put C 5000 64; put E 9 1; put D 16383 1
dump '$OUT/v1_view.img'
G
rm -f v1.cow; boot v1 "$OUT/v1_guest.sh" ubd1=v1.cow,v1_back.img
uml_moo v1.cow v1_moo.img >/dev/null || fail "uml_moo v1"
expect_hash "v1 guest view" "$(digest v1_view.img)" $SPEC_V1
expect_hash "v1 uml_moo" "$(digest v1_moo.img)" $SPEC_V1
row v1 v3 4096 8388608 "$OUT/v1.cow" "$OUT/v1_back.img" "$OUT/v1_view.img" "$OUT/v1_moo.img" $SPEC_V1

}

vector_v2() {
# ---- V2: 1 MiB + 1000 bytes; writes sector 5 and the partial last sector 2049
make_pattern v2_back.img 1049576 && touch -d "$STAMP" v2_back.img
expect_hash "v2 backing" "$(digest v2_back.img)" 6a9b79d50953d60c2aa5355387cd329364d310f4980103bf32b78d8d05746f29
cat > v2_guest.sh <<G
put Y 5 1; put Z 2049 1
dump '$OUT/v2_view.img'
G
rm -f v2.cow; boot v2 "$OUT/v2_guest.sh" ubd1=v2.cow,v2_back.img
uml_moo v2.cow v2_moo.img >/dev/null || fail "uml_moo v2"
# the device is rounded up to 1049600 bytes; the image is the first 1049576
expect_hash "v2 guest view (first S bytes)" "$(digest_head v2_view.img 1049576)" $SPEC_V2
expect_hash "v2 uml_moo (drops the partial sector)" "$(digest v2_moo.img)" $SPEC_V2_MOO
row v2 v3 4096 1049576 "$OUT/v2.cow" "$OUT/v2_back.img" "$OUT/v2_view.img" "$OUT/v2_moo.img" $SPEC_V2

}

vector_v3() {
# ---- V3: 64 KiB of 'Q' at 1 MiB, then discard it; write-zeroes 64 KiB at 2 MiB
make_pattern v3_back.img 8388608 && touch -d "$STAMP" v3_back.img
cat > v3_guest.sh <<G
dd if=/dev/zero bs=65536 count=1 2>/dev/null | tr '\0' Q |
  dd of=/dev/ubdb bs=65536 seek=16 count=1 iflag=fullblock oflag=direct conv=notrunc 2>/dev/null
blkdiscard --offset 1048576 --length 65536 /dev/ubdb
blkdiscard --zeroout --offset 2097152 --length 65536 /dev/ubdb
dump '$OUT/v3_view.img'
G
rm -f v3.cow; boot v3 "$OUT/v3_guest.sh" ubd1=v3.cow,v3_back.img
uml_moo v3.cow v3_moo.img >/dev/null || fail "uml_moo v3"
expect_hash "v3 guest view" "$(digest v3_view.img)" $SPEC_V3
expect_hash "v3 uml_moo" "$(digest v3_moo.img)" $SPEC_V3
row v3 v3 4096 8388608 "$OUT/v3.cow" "$OUT/v3_back.img" "$OUT/v3_view.img" "$OUT/v3_moo.img" $SPEC_V3

}

vector_v4() {
# ---- V4: sparse 5 GiB + 1536 bytes (size field above 32 bits); the guest dumps
# only the pages around the writes and the marker in the backing
V4_SIZE=$((5 * 1024 * 1024 * 1024 + 1536))
rm -f v4_back.img && truncate -s $V4_SIZE v4_back.img
printf 'BACKING-AT-4.5G' | dd of=v4_back.img bs=1 seek=$((4608 * 1024 * 1024)) conv=notrunc 2>/dev/null
touch -d "$STAMP" v4_back.img
cat > v4_guest.sh <<G
put L 10485762 1
dd if=/dev/zero bs=4096 count=1 2>/dev/null | tr '\0' F |
  dd of=/dev/ubdb bs=4096 seek=1048576 count=1 iflag=fullblock oflag=direct conv=notrunc 2>/dev/null
put G 8388607 1
dump '$OUT/v4_view_4g.img' /dev/ubdb 1048575 2
dump '$OUT/v4_view_4g5.img' /dev/ubdb 1179648 1
dump '$OUT/v4_view_tail.img' /dev/ubdb 1310719 2
G
rm -f v4.cow; boot v4 "$OUT/v4_guest.sh" ubd1=v4.cow,v4_back.img
{
  printf 'offset\tlength\tfile\n'
  printf '%s\t%s\t%s\n' $((1048575 * 4096)) 8192 "$OUT/v4_view_4g.img"
  printf '%s\t%s\t%s\n' $((1179648 * 4096)) 4096 "$OUT/v4_view_4g5.img"
  printf '%s\t%s\t%s\n' $((1310719 * 4096)) 5632 "$OUT/v4_view_tail.img"
} > v4_regions.tsv
# what the guest must have seen in those ranges, built independently on the host
python3 - "$OUT" <<'PY' || fail "v4 guest regions"
import sys
out = sys.argv[1]
def sec(c, n=1): return c * (512 * n)
def pattern_4g():       # pages 1048575..1048576: zeros, sector 8388607 'G', then a page of 'F'
    return bytes(4096 - 512) + sec(b"G") + sec(b"F", 8)
def pattern_4g5():      # the marker written into the sparse backing at 4608 MiB
    return b"BACKING-AT-4.5G" + bytes(4096 - 15)
def pattern_tail():     # last full page and the 1536-byte tail; last sector 'L'
    return bytes(4096 + 1024) + sec(b"L")
for name, want in (("4g", pattern_4g()), ("4g5", pattern_4g5()), ("tail", pattern_tail())):
    got = open(f"{out}/v4_view_{name}.img", "rb").read()
    if got != want:
        sys.exit(f"v4 guest region {name} differs from the expected bytes")
PY
[ $? -eq 0 ] && pass "v4 guest regions"
local V4_MOO=-
if [ "$MOO_V4" = 1 ]; then
  uml_moo v4.cow v4_moo.img >/dev/null || fail "uml_moo v4"
  expect_hash "v4 uml_moo" "$(digest v4_moo.img)" $SPEC_V4
  V4_MOO="$OUT/v4_moo.img"
fi
row v4 v3 4096 $V4_SIZE "$OUT/v4.cow" "$OUT/v4_back.img" - "$V4_MOO" $SPEC_V4

}

vector_v5() {
# ---- V5: 64 MiB ext4 with files written by the guest (not byte-reproducible)
rm -f v5_back.img && truncate -s 64M v5_back.img && mkfs.ext4 -q -F v5_back.img
touch -d "$STAMP" v5_back.img
mkdir -p "$OUT/mnt"
cat > v5_guest.sh <<G
mount -t ext4 /dev/ubdb '$OUT/mnt' &&
  echo hello > '$OUT/mnt/hello.txt' &&
  dd if=/dev/urandom of='$OUT/mnt/rand.bin' bs=1024 count=300 2>/dev/null &&
  umount '$OUT/mnt'
dump '$OUT/v5_view.img'
G
rm -f v5.cow; boot v5 "$OUT/v5_guest.sh" ubd1=v5.cow,v5_back.img
uml_moo v5.cow v5_moo.img >/dev/null || fail "uml_moo v5"
if cmp -s v5_moo.img v5_view.img; then pass "v5 uml_moo == guest view"; else fail "v5 uml_moo != guest view"; fi
if [ "$(debugfs -R 'cat /hello.txt' v5_moo.img 2>/dev/null)" = hello ]; then
  pass "v5 /hello.txt in the merged image"
else
  fail "v5 /hello.txt missing from the merged image"
fi
local SPEC_V5; SPEC_V5=$(digest v5_view.img)
[ "$(stat -c %s v5_view.img 2>/dev/null)" = 67108864 ] || fail "v5 guest view size"
row v5 v3 4096 67108864 "$OUT/v5.cow" "$OUT/v5_back.img" "$OUT/v5_view.img" "$OUT/v5_moo.img" "$SPEC_V5"

}

RE="v1:512 v2:512 v3-broken:4096 v3:512 v3:65536"
reencodings() {
# ---- Re-encodings of V1 (section 7.2), all read back by the kernel in one boot
local spec layout align name letter ubd guest unit
ubd=() guest=() unit=1
for spec in $RE; do
  layout=${spec%%:*} align=${spec##*:}
  name="v1_${layout/-/}_a$align"
  if python3 "$HERE/craft-cow.py" v1.cow "$name.cow" "$layout" "$align" "$OUT/v1_back.img"; then
    letter=$(printf "\\$(printf '%03o' $((97 + unit)))")
    ubd+=("ubd${unit}r=$name.cow")
    guest+=("dump '$OUT/${name}_view.img' /dev/ubd$letter")
  else
    fail "craft $name"
  fi
  unit=$((unit + 1))
done
printf '%s\n' "${guest[@]}" > reenc_guest.sh
boot reenc "$OUT/reenc_guest.sh" "${ubd[@]}"
for spec in $RE; do
  layout=${spec%%:*} align=${spec##*:}
  name="v1_${layout/-/}_a$align"
  expect_hash "$name guest view" "$(digest "${name}_view.img" 2>/dev/null)" $SPEC_V1
  uml_moo "$name.cow" "${name}_moo.img" >/dev/null || fail "uml_moo $name"
  expect_hash "$name uml_moo" "$(digest "${name}_moo.img")" $SPEC_V1
  row "$name" "$layout" "$align" 8388608 "$OUT/$name.cow" "$OUT/v1_back.img" \
    "$OUT/${name}_view.img" "$OUT/${name}_moo.img" $SPEC_V1
done

}

# two lanes on two cores; the re-encodings need V1
( vector_v1; reencodings; vector_v3 ) &
lane=$!
vector_v2; vector_v4; vector_v5
wait $lane

{
  printf 'name\tlayout\talign\tsize\tcow\tbacking\tguestview\tmoo\texpected_sha256\n'
  for name in v1 v2 v3 v4 v5; do cat "$OUT/.row.$name" || fail "no manifest row for $name"; done
  for spec in $RE; do
    layout=${spec%%:*} align=${spec##*:}
    name="v1_${layout/-/}_a$align"
    cat "$OUT/.row.$name" || fail "no manifest row for $name"
  done
} > "$MANIFEST.tmp"
rm -f "$OUT"/.row.*
failures=$(cat "$OUT/.failures" 2>/dev/null | wc -l)
if [ "$failures" -ne 0 ]; then log "make-vectors: $failures check(s) failed"; exit 1; fi
mv "$MANIFEST.tmp" "$MANIFEST"
log "make-vectors: all checks passed"
