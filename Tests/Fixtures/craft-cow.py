#!/usr/bin/env python3
"""Re-encode a UML COW file in another on-disk layout.

usage: craft-cow.py IN.cow OUT.cow LAYOUT [ALIGN] [BACKINGPATH]
       craft-cow.py --show IN.cow

LAYOUT is one of v1, v2, v3, v3-broken. ALIGN applies to v3 and v3-broken
(default 4096); v1 and v2 have no alignment field (it is the sector size).
BACKINGPATH replaces the backing path stored in the header (default: keep the
input's path). The header mtime and size are copied from the input.

The output holds the same bitmap bits and the same sector data as the input,
placed with the geometry of the new layout (cow-format.md sections 1 and 2),
and is extended to data_offset + size. Sectors whose data is all zero are
left as holes. Padding bytes of the broken v3 layout are DE AD BE EF, so a
reader that looks at them gets caught.

This is an independent test oracle: it shares no code with corral.
"""
import os
import struct
import sys

MAGIC = 0x4F4F4F4D
SECTOR = 512
PAD = b"\xde\xad\xbe\xef"


def rup(x, a):
    return -(-x // a) * a


def parse(raw):
    """Decode a header; returns a dict with layout, fields and geometry."""
    if len(raw) < 8:
        raise ValueError("short header")
    if raw[:4] == struct.pack(">I", MAGIC):
        version = struct.unpack_from(">I", raw, 4)[0]
    elif raw[:4] == struct.pack("<I", MAGIC):
        version = struct.unpack_from("<i", raw, 4)[0]
    else:
        raise ValueError("not a COW file (bad magic)")
    h = {}
    if version == 1:
        need = 280
        path, mtime, size, ss = struct.unpack_from("<256sIQi", raw, 8)
        h.update(layout="v1", mtime=mtime, size=size, ss=ss, align=ss, hdr=280)
    elif version == 2:
        need = 4120
        path, mtime, size, ss = struct.unpack_from(">4096sIQi", raw, 8)
        h.update(layout="v2", mtime=mtime, size=size, ss=ss, align=ss, hdr=4120)
    elif version == 3 and any(raw[32:36]):
        need = 4128
        mtime, size, ss, align, _fmt, path = struct.unpack_from(">IQIII4096s", raw, 8)
        h.update(layout="v3", mtime=mtime, size=size, ss=ss, align=align, hdr=4128)
    elif version == 3:
        need = 4136
        mtime, = struct.unpack_from(">I", raw, 8)
        size, ss, align, _fmt, path = struct.unpack_from(">QIII4096s", raw, 16)
        h.update(layout="v3-broken", mtime=mtime, size=size, ss=ss, align=align, hdr=4136)
    else:
        raise ValueError(f"invalid COW version {version}")
    if len(raw) < need:
        raise ValueError(f"short {h['layout']} header")
    if h["ss"] != SECTOR:
        raise ValueError(f"sector size {h['ss']} is not supported")
    if h["align"] <= 0:
        raise ValueError("alignment 0")
    h["path"] = path.split(b"\0", 1)[0]
    h.update(geometry(h["layout"], h["size"], h["align"]))
    return h


def geometry(layout, size, align):
    """Bitmap offset/length and data offset, cow-format.md section 2."""
    n = -(-size // SECTOR)
    if layout in ("v1", "v2"):
        boff = 280 if layout == "v1" else 4120
        blen = (size + SECTOR - 1) // (8 * SECTOR)  # rounds down: the v1/v2 quirk
        doff = rup(boff + blen, SECTOR)
    else:
        boff = rup(4128 if layout == "v3" else 4136, align)
        blen = -(-n // 8)
        doff = rup(boff + blen, align)
    return {"sectors": n, "bitmap_offset": boff, "bitmap_len": blen, "data_offset": doff}


def header_bytes(layout, path, mtime, size, align):
    if layout == "v1":
        if len(path) > 255:
            raise ValueError("backing path too long for v1 (255 bytes)")
        return struct.pack("<Ii256sIQi", MAGIC, 1, path, mtime, size, SECTOR)
    if len(path) > 4095:
        raise ValueError("backing path too long (4095 bytes)")
    if layout == "v2":
        return struct.pack(">II4096sIQi", MAGIC, 2, path, mtime, size, SECTOR)
    if layout == "v3":
        return struct.pack(">IIIQIII4096s", MAGIC, 3, mtime, size, SECTOR, align, 0, path)
    if layout == "v3-broken":
        return (struct.pack(">III", MAGIC, 3, mtime) + PAD
                + struct.pack(">QIII4096s", size, SECTOR, align, 0, path) + PAD)
    raise ValueError(f"unknown layout {layout}")


def set_bits(bitmap, n):
    for j, byte in enumerate(bitmap):
        if byte:
            for k in range(8):
                s = 8 * j + k
                if byte >> k & 1 and s < n:
                    yield s


def show(path):
    with open(path, "rb") as f:
        h = parse(f.read(4136))
        f.seek(h["bitmap_offset"])
        bits = list(set_bits(f.read(h["bitmap_len"]), h["sectors"]))
    for k in ("layout", "mtime", "size", "align", "bitmap_offset", "bitmap_len", "data_offset"):
        print(f"{k}\t{h[k]}")
    print(f"path\t{h['path'].decode(errors='replace')}")
    print(f"dirty\t{len(bits)}")


def craft(src, dst, layout, align, backing):
    with open(src, "rb") as f:
        h = parse(f.read(4136))
        f.seek(h["bitmap_offset"])
        bitmap = f.read(h["bitmap_len"])
        bits = list(set_bits(bitmap, h["sectors"]))
        size = h["size"]
        g = geometry(layout, size, align)
        if any(s >= 8 * g["bitmap_len"] for s in bits):
            raise ValueError(f"a set sector has no bit in a {layout} bitmap (N mod 8 quirk)")
        newmap = bytearray(g["bitmap_len"])
        for s in bits:
            newmap[s // 8] |= 1 << (s % 8)
        path = h["path"] if backing is None else os.fsencode(backing)
        tmp = dst + ".tmp"
        with open(tmp, "wb") as out:
            out.write(header_bytes(layout, path, h["mtime"], size, align))
            out.seek(g["bitmap_offset"])
            out.write(newmap)
            for s in bits:
                f.seek(h["data_offset"] + s * SECTOR)
                data = f.read(SECTOR)
                data += bytes(SECTOR - len(data))  # past EOF reads as zeros
                if any(data):
                    out.seek(g["data_offset"] + s * SECTOR)
                    out.write(data)
            end = g["data_offset"] + size
            if out.seek(0, os.SEEK_END) < end:
                out.truncate(end)
        os.replace(tmp, dst)


def main(argv):
    if len(argv) == 3 and argv[1] == "--show":
        show(argv[2])
        return 0
    if not 4 <= len(argv) <= 6:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    src, dst, layout = argv[1:4]
    align = int(argv[4]) if len(argv) > 4 and argv[4] else 4096
    backing = argv[5] if len(argv) > 5 else None
    if layout in ("v1", "v2"):
        align = SECTOR
    craft(src, dst, layout, align, backing)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (OSError, ValueError) as e:
        print(f"craft-cow.py: {e}", file=sys.stderr)
        sys.exit(1)
