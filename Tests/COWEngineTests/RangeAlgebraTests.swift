import Testing
@testable import COWEngine

/// Flatten's range helpers against a brute-force set of offsets, on random
/// sorted lists of disjoint ranges.
@Suite struct RangeAlgebraTests {
    struct Generator {
        var state: UInt64
        mutating func next(_ bound: UInt64) -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (state >> 33) % bound
        }
        /// Up to `count` disjoint ranges in 0..<200, sorted.
        mutating func ranges(_ count: Int) -> [Range<UInt64>] {
            var out: [Range<UInt64>] = []
            var at: UInt64 = next(5)
            for _ in 0..<count {
                let length = 1 + next(20)
                if at + length > 200 { break }
                out.append(at..<(at + length))
                at += length + 1 + next(15)
            }
            return out
        }
    }

    static func offsets(_ ranges: [Range<UInt64>]) -> Set<UInt64> {
        Set(ranges.flatMap { Array($0) })
    }

    @Test func subtractAndUnionMatchSetArithmetic() {
        var gen = Generator(state: 42)
        for _ in 0..<2000 {
            let a = gen.ranges(Int(gen.next(8))), b = gen.ranges(Int(gen.next(8)))
            let difference = Flatten.subtract(a, b)
            #expect(Self.offsets(difference) == Self.offsets(a).subtracting(Self.offsets(b)), "\(a) - \(b)")
            // Sorted, disjoint, none empty.
            #expect(zip(difference, difference.dropFirst()).allSatisfy { $0.upperBound <= $1.lowerBound })
            #expect(difference.allSatisfy { !$0.isEmpty })
            #expect(Self.offsets(Flatten.union(a, b)) == Self.offsets(a).union(Self.offsets(b)))
        }
        #expect(Flatten.subtract([0..<10], []) == [0..<10])
        #expect(Flatten.subtract([0..<10], [0..<10]).isEmpty)
        #expect(Flatten.subtract([0..<10, 20..<30], [5..<25]) == [0..<5, 25..<30])
    }
}
