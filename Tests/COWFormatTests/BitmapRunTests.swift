import Testing
@testable import COWFormat

struct BitmapRunTests {
    /// Reference: one run per sector from the plain LSB-first bit rule, merged.
    static func reference(_ bytes: [UInt8], limit: UInt64) -> [SectorRun] {
        var runs: [SectorRun] = []
        for s in 0..<limit {
            let j = Int(s / 8)
            let bit = j < bytes.count && (bytes[j] >> (s % 8)) & 1 == 1
            if var last = runs.last, last.inCOW == bit {
                last.count += 1
                runs[runs.count - 1] = last
            } else {
                runs.append(SectorRun(start: s, count: 1, inCOW: bit))
            }
        }
        return runs
    }

    static func build(_ bytes: [UInt8], limit: UInt64, chunk: Int) -> [SectorRun] {
        var b = BitmapRunBuilder(sectorLimit: limit)
        var out: [SectorRun] = []
        var i = 0
        while i < bytes.count {
            let part = Array(bytes[i..<min(i + chunk, bytes.count)])
            part.withUnsafeBytes { b.feed($0) { out.append($0) } }
            i += chunk
        }
        b.finish { out.append($0) }
        return out
    }

    @Test func bitOrderIsLSBFirst() {
        // Sector 70 is byte 8, bit 6 (verified with strace in spec §3.1).
        var bytes = [UInt8](repeating: 0, count: 16)
        bytes[8] = 0x40
        let runs = Self.build(bytes, limit: 128, chunk: 16)
        #expect(runs == [
            SectorRun(start: 0, count: 70, inCOW: false),
            SectorRun(start: 70, count: 1, inCOW: true),
            SectorRun(start: 71, count: 57, inCOW: false),
        ])
    }

    @Test func matchesReferenceOnRandomBitmaps() {
        var rng = SplitMix64(seed: 42)
        for round in 0..<300 {
            let n = Int(rng.next() % 300)
            var bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            // Mix in long uniform stretches so the whole-word fast path runs.
            if round % 2 == 0 { for i in 0..<n where (i / 16) % 2 == 0 { bytes[i] = round % 4 == 0 ? 0xFF : 0 } }
            let limit = UInt64(rng.next() % UInt64(n * 8 + 20))
            let chunk = Int(rng.next() % 40) + 1
            #expect(Self.build(bytes, limit: limit, chunk: chunk) == Self.reference(bytes, limit: limit))
        }
    }

    @Test func sectorsPastTheBitmapComeFromTheBacking() {
        let runs = Self.build([0xFF], limit: 11, chunk: 1)
        #expect(runs == [SectorRun(start: 0, count: 8, inCOW: true), SectorRun(start: 8, count: 3, inCOW: false)])
    }
}
