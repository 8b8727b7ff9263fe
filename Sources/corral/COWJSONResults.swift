import COWEngine
import CorralSystem

/// The `--json` results of the cow verbs that write or compare. Each is one
/// object, keys as corral-cow(1) JSON OUTPUT lists them; every verb that
/// may write a file says whether it did in `changed`.

/// create, flatten, commit and from-image: the engine's result, whose keys
/// are already the documented ones, with `changed` (these verbs always
/// write) and the input the result does not name (`cow` for flatten and
/// commit, `image` for from-image).
struct WrittenJSON<Result: Encodable>: Encodable {
    var result: Result
    var input: (key: String, path: String)?

    init(_ result: Result, input: (key: String, path: String)? = nil) {
        self.result = result
        self.input = input
    }

    /// The result's keys and the added ones, in one object.
    func encode(to encoder: any Encoder) throws {
        try result.encode(to: encoder)
        var object = encoder.container(keyedBy: AddedKey.self)
        try object.encode(true, forKey: AddedKey("changed"))
        if let input { try object.encode(input.path, forKey: AddedKey(input.key)) }
    }

    struct AddedKey: CodingKey {
        var stringValue: String
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.init(stringValue) }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }
}

struct NormalizeJSON: Encodable {
    var changed: Bool
    var path: String
    var mixedPages: UInt64
    var sectorsCopied: UInt64

    init(_ r: Normalize.Result) {
        changed = r.mixedPages > 0
        (path, mixedPages, sectorsCopied) = (r.path, r.mixedPages, r.sectorsCopied)
    }
}

struct RebaseJSON: Encodable {
    var changed = true
    var cow: String
    var oldBacking: String
    var newBacking: String
    var unsafe: Bool
    var pagesCopied: UInt64
    var sectorsCopied: UInt64
    var fingerprint: Bool
    var warnings: [String]

    init(_ r: Rebase.Result) {
        (cow, oldBacking, newBacking, unsafe, pagesCopied, sectorsCopied, fingerprint)
            = (r.cow, r.oldBacking, r.newBacking, r.unsafe, r.pagesCopied, r.sectorsCopied, r.fingerprint)
        warnings = r.warnings.map { "\($0)" }
    }
}

/// `compare --json`: like the exit status, `identical`; when not,
/// `firstDifference` (a byte offset) or the two sizes that differ.
struct CompareJSON: Encodable {
    var identical: Bool
    var size: UInt64
    var sizeA: UInt64
    var sizeB: UInt64
    @NullWhenAbsent var firstDifference: UInt64?

    init(_ r: Compare.Result) {
        identical = r.identical
        size = r.size
        (sizeA, sizeB) = (r.size, r.size)
        switch r.outcome {
        case .identical: firstDifference = nil
        case .sizesDiffer(let a, let b): (sizeA, sizeB) = (a, b)
        case .contentDiffers(let at): firstDifference = at
        }
    }
}
