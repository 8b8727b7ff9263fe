import COWEngine
import CorralSystem

/// The `--json` results of the cow verbs that write or compare. Each is one
/// object, keys as corral-cow(1) JSON OUTPUT lists them; every verb that
/// may write a file says whether it did in `changed`.

struct CreateJSON: Encodable {
    var changed = true
    var path: String
    var backingFile: String
    var size: UInt64
    var dataOffset: UInt64
    var fileLength: UInt64
    var warnings: [String]

    init(_ r: Create.Result) {
        (path, backingFile, size, dataOffset, fileLength) = (r.path, r.backingFile, r.size, r.dataOffset, r.fileLength)
        warnings = r.warnings.map { "\($0)" }
    }
}

struct FlattenJSON: Encodable {
    var changed = true
    var cow: String
    var output: String
    var size: UInt64
    var cowBytes: UInt64
    var allocatedBytes: UInt64
    var cloned: Bool
    var warnings: [String]

    init(cow: String, _ r: Flatten.Result) {
        self.cow = cow
        (output, size, cowBytes, allocatedBytes, cloned) = (r.output, r.size, r.cowBytes, r.allocatedBytes, r.cloned)
        warnings = r.warnings.map { "\($0)" }
    }
}

struct CommitJSON: Encodable {
    var changed = true
    var cow: String
    var backing: String
    var sectors: UInt64
    var bytes: UInt64
    var resumed: Bool
    var invalidated: [String]

    init(cow: String, _ r: Commit.Result) {
        self.cow = cow
        (backing, sectors, bytes, resumed, invalidated) = (r.backing, r.sectors, r.bytes, r.resumed, r.invalidated)
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

struct FromImageJSON: Encodable {
    var changed = true
    var image: String
    var output: String
    var backingFile: String
    var size: UInt64
    var pages: UInt64
    var sectors: UInt64
    var allocatedBytes: UInt64
    var fingerprint: Bool

    init(image: String, _ r: FromImage.Result) {
        self.image = image
        (output, backingFile, size, pages, sectors, allocatedBytes, fingerprint)
            = (r.output, r.backingFile, r.size, r.pages, r.sectors, r.allocatedBytes, r.fingerprint)
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
