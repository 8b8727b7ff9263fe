// libFuzzer entry point over the COW header decoder and geometry: every
// input must decode or throw, never crash, trap or allocate in proportion
// to a header field. Built by scripts/fuzz with -sanitize=fuzzer,address
// together with Sources/COWFormat.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard let header = try? COWHeader.decode(bytes) else { return 0 }
    if let g = try? COWGeometry(header: header) {
        precondition(g.dataOffset <= COWGeometry.maximumDataOffset)
        precondition(g.bitmapOffset + g.bitmapLength <= g.dataOffset)
        precondition(g.mappableSectors <= g.sectorCount)
        // Feed the bytes after the header as a bitmap: runs must tile the sectors.
        let tail = UnsafeRawBufferPointer(start: data, count: size)
        var builder = BitmapRunBuilder(sectorLimit: min(g.sectorCount, UInt64(size) * 8))
        var next: UInt64 = 0
        builder.feed(tail) { run in
            precondition(run.start == next && run.count > 0)
            next = run.end
        }
        builder.finish { run in
            precondition(run.start == next && run.count > 0)
            next = run.end
        }
        precondition(next == builder.sectorLimit)
    }
    // Re-encoding what was decoded must decode to the same values.
    if let again = try? header.encode() {
        let back = try? COWHeader.decode(again)
        precondition(back?.size == header.size && back?.mtime == header.mtime && back?.layout == header.layout)
    }
    return 0
}
