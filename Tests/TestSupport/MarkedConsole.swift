/// A seeded random generator (SplitMix64), so a failing property test
/// names a seed that replays it.
public struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// What a guest writes to its console around nonce markers, for property
/// tests of the marker parsing: random output (empty lines, no final line
/// break, carriage returns, bytes that are not UTF-8, forged and malformed
/// markers), and real markers, each written as the producers write them:
/// "\n" + "CORRAL-<nonce> " + body + "\n" in one write.
public struct MarkedConsole: Sendable {
    public enum Write: Sendable, Equatable {
        case output([UInt8])
        case marker(nonce: String, body: String)
    }

    public var writes: [Write]

    public init(_ writes: [Write]) { self.writes = writes }

    /// Output pieces that hold no real marker line for `nonces`: forgeries
    /// sit mid-line, carry another nonce or a body no grammar accepts.
    public static func outputTokens(nonces: [String]) -> [[UInt8]] {
        var tokens = ["a", "hello", " world", "\n", "\n", "\n\n", "\r", "\r\n", "\t", "CORR", "CORRAL-",
                      "CORRAL-ffffffff READY", "CORRAL-ffffffff EXIT 0"].map { Array($0.utf8) }
        tokens.append([0xFF, 0xFE, 0x00])
        for nonce in nonces {
            tokens += ["x CORRAL-\(nonce) READY", "say CORRAL-\(nonce) EXIT 3", "CORRAL-\(nonce) bogus",
                       "CORRAL-\(nonce)-", "CORRAL-\(nonce.prefix(3))"].map { Array($0.utf8) }
        }
        return tokens
    }

    /// Random output of up to `maxTokens` tokens.
    public static func randomOutput(_ tokens: [[UInt8]], maxTokens: Int, using rng: inout SeededGenerator) -> [UInt8] {
        (0..<Int.random(in: 0...maxTokens, using: &rng)).flatMap { _ in tokens.randomElement(using: &rng) ?? [] }
    }

    /// Output writes and markers (`bodies` for `nonce`) in random order.
    public static func random(nonce: String, bodies: [String], tokens: [[UInt8]], writes: Int,
                              using rng: inout SeededGenerator) -> MarkedConsole {
        var result: [Write] = []
        for _ in 0..<Int.random(in: 0...writes, using: &rng) {
            if Bool.random(using: &rng), let body = bodies.randomElement(using: &rng) {
                result.append(.marker(nonce: nonce, body: body))
            } else {
                result.append(.output(randomOutput(tokens, maxTokens: 6, using: &rng)))
            }
        }
        return MarkedConsole(result).unambiguous()
    }

    /// A carriage return right before a marker's framing "\r*\n" cannot be
    /// told from the framing (UML itself writes "\r\r\n"): the one thing
    /// output must not end with before a marker.
    public func unambiguous() -> MarkedConsole {
        var writes = self.writes.filter { $0 != .output([]) }
        for i in writes.indices.dropLast() {
            if case .output(let bytes) = writes[i], bytes.last == 13, case .marker = writes[i + 1] {
                writes[i] = .output(bytes + Array("x".utf8))
            }
        }
        return MarkedConsole(writes)
    }

    public static func bytes(of write: Write) -> [UInt8] {
        switch write {
        case .output(let bytes): return bytes
        case .marker(let nonce, let body): return Array("\nCORRAL-\(nonce) \(body)\n".utf8)
        }
    }

    /// All output writes, concatenated: what a reader must get back.
    public var output: [UInt8] {
        writes.flatMap { if case .output(let bytes) = $0 { return bytes } else { return [] } }
    }

    /// The marker bodies in order.
    public var markers: [String] {
        writes.compactMap { if case .marker(_, let body) = $0 { return body } else { return nil } }
    }

    /// What a pty in cooked mode makes of the bytes (onlcr: "\n" -> "\r\n").
    public static func onlcr(_ bytes: [UInt8]) -> [UInt8] {
        bytes.flatMap { $0 == 10 ? [13, 10] : [$0] }
    }

    /// Each write's bytes cut at random points: the reads a console reader
    /// gets. `true` after a write's last read: the writer may pause there.
    public static func reads(of writes: [[UInt8]], using rng: inout SeededGenerator) -> [(bytes: [UInt8], endsWrite: Bool)] {
        var reads: [([UInt8], Bool)] = []
        for write in writes where !write.isEmpty {
            var start = 0
            while start < write.count {
                let end = min(write.count, start + Int.random(in: 1...max(1, write.count), using: &rng))
                reads.append((Array(write[start..<end]), end == write.count))
                start = end
            }
        }
        return reads
    }
}
