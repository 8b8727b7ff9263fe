#if canImport(Glibc)
import Glibc
#endif
import COWFormat
import CorralSystem

/// Everything that can stop an engine operation, each with the file it is
/// about. ``description`` is the one line the CLI prints after `corral:`;
/// ``hint`` is what to do about it, when something can be done.
public enum EngineError: Error, Sendable, CustomStringConvertible {
    /// The header is not a usable COW header.
    case format(path: String, COWFormatError)
    /// A system call failed; `call` names it, `path` the file.
    case system(call: String, path: String, errno: Int32)
    /// The output filesystem filled up; partial output was removed.
    case noSpace(path: String)
    case notACOW(path: String)
    /// COW sectors lie past the end of the file: their data is lost.
    case dataTruncated(path: String, sectors: UInt64, first: UInt64)
    case backingMissing(backing: String, cow: String)
    /// The header names a backing the policy refuses (``BackingPolicy``).
    case backingRefused(backing: String, cow: String, reason: String)
    /// A block device named as backing without `--allow-block-device`.
    case blockDeviceBacking(path: String)
    case backingSizeMismatch(backing: String, header: UInt64, actual: UInt64)
    case backingMtimeMismatch(backing: String, header: UInt32, actual: Int64)
    /// The format stores mtime as u32 seconds; the kernel would refuse the COW at once (§1.7).
    case mtimeUnrepresentable(backing: String, mtime: Int64)
    case unsupportedSectorSize(path: String, UInt32)
    case outputExists(path: String)
    case outputIsInput(path: String, role: String)
    case pathTooLong(path: String, length: Int)
    /// Another process (a running UML, or another corral) holds a lock on the file.
    case inUse(path: String, pid: Int32)
    /// A running UML kernel names the file on its command line: it holds no
    /// lock until its guest opens the device, but may at any moment.
    case namedByKernel(path: String, pid: Int32)
    /// Committing would silently invalidate these other COW files.
    case otherCOWsOnBacking(backing: String, cows: [String])
    /// An interrupted commit of another COW into this backing is unfinished.
    case commitPending(backing: String, cow: String)
    case invalidArgument(String)
    /// A directory, FIFO, socket or character device where a disk file belongs.
    case notADiskFile(path: String, kind: String)
    /// from-image: the image and the backing differ in size; a COW disk is exactly its backing's size.
    case imageSizeMismatch(image: String, imageSize: UInt64, backing: String, backingSize: UInt64)
    /// rebase: the new backing file does not exist.
    case newBackingMissing(path: String)
    /// rebase: the size is part of the COW's geometry (§2), so it cannot change.
    case newBackingSizeMismatch(path: String, size: UInt64, diskSize: UInt64)
    /// rebase --unsafe: the old and new backing files hold different data.
    case backingContentDiffers(old: String, new: String, offset: UInt64)
    /// The backing's content no longer matches the fingerprint recorded when the COW was made.
    case fingerprintMismatch(backing: String, cow: String)

    public var description: String {
        switch self {
        case .format(let path, let error):
            "\(path): \(error)"
        case .system(let call, let path, let code):
            "\(path): \(call) failed: \(SystemError.describe(code))"
        case .noSpace(let path):
            "\(path): no space left on device; the partial output was removed and the inputs are unchanged"
        case .backingRefused(let backing, let cow, let reason):
            "\(cow): its header names \(backing) as backing, which \(reason); corral uses it only if you name it yourself with --backing \(Shell.quote(backing))"
        case .blockDeviceBacking(let path):
            "\(path) is a block device; corral uses a block device as a backing only with \(BackingPolicy.blockDeviceFlag) (nothing was changed)"
        case .dataTruncated(let path, let sectors, let first):
            "\(path): \(sectors) COW sector(s) from sector \(first) on lie past the end of the file (it was truncated): their data is lost; restore the whole file, or pass --force to read them as zeros"
        case .notACOW(let path):
            "\(path): not a UML COW file"
        case .backingMissing(let backing, let cow):
            "\(cow): backing file \(backing) does not exist"
        case .backingSizeMismatch(let backing, let header, let actual):
            "\(backing): size is \(actual) bytes but the COW header says \(header): this is not the backing file the COW was made on"
        case .backingMtimeMismatch(let backing, let header, let actual):
            "\(backing): mtime is \(actual) but the COW header says \(header) (the kernel refuses this disk): the backing was modified or copied without its mtime"
        case .mtimeUnrepresentable(let backing, let mtime):
            "\(backing): mtime \(mtime) is outside 0…2^32−1, which a COW header cannot store; the kernel would refuse the COW"
        case .unsupportedSectorSize(let path, let ss):
            "\(path): sector size \(ss) is not supported (the kernel always uses 512)"
        case .outputExists(let path):
            "\(path): output already exists"
        case .outputIsInput(let path, let role):
            "\(path): output is the \(role) itself; refusing to overwrite an input"
        case .pathTooLong(let path, let length):
            "\(path): absolute path is \(length) bytes; the COW header holds at most 4095"
        case .inUse(let path, let pid):
            pid > 0 ? "\(path): in use by process \(pid)\(ProcessName.describe(pid))" : "\(path): locked by another process"
        case .namedByKernel(let path, let pid):
            "\(path): named on the command line of running UML kernel process \(pid)\(ProcessName.describe(pid)), which may open it at any moment; stop that guest first"
        case .otherCOWsOnBacking(let backing, let cows):
            "\(backing): \(cows.count) other COW file(s) use this backing and would be invalidated: \(cows.joined(separator: ", "))"
        case .commitPending(let backing, let cow):
            "\(backing): an interrupted commit of \(cow) into this backing is unfinished"
        case .invalidArgument(let text):
            text
        case .notADiskFile(let path, let kind):
            "\(path): is \(kind), not a disk image or COW file"
        case .imageSizeMismatch(let image, let imageSize, let backing, let backingSize):
            "\(image) is \(imageSize) bytes but the backing \(backing) is \(backingSize): a COW disk has exactly its backing's size"
        case .newBackingMissing(let path):
            "new backing file \(path) does not exist"
        case .newBackingSizeMismatch(let path, let size, let diskSize):
            "new backing \(path) is \(size) bytes but the disk is \(diskSize): the size is part of the COW's geometry and cannot change"
        case .backingContentDiffers(let old, let new, let offset):
            "\(new) differs from the current backing \(old) (first at byte \(offset)): an --unsafe rebase would change the guest's disk"
        case .fingerprintMismatch(let backing, let cow):
            "\(backing): content differs from the fingerprint \(cow) recorded for its backing: using it would change the guest's disk"
        }
    }

    /// What to do about it, or nil.
    public var hint: String? {
        switch self {
        case .noSpace: "free space on the output filesystem or choose another output directory"
        case .backingMissing(_, let cow): "give the backing's new location with --backing PATH (e.g. corral cow flatten --backing NEW \(cow) OUT)"
        case .backingSizeMismatch: "pass the right file with --backing PATH; --force reads this one anyway"
        case .backingMtimeMismatch(let backing, let header, _):
            "if its content did not change, restore the mtime: touch -d @\(header) \(Shell.quote(backing)) (or use --force)"
        case .notADiskFile: "give a regular file (an image or a COW) or a block device"
        case .outputExists: "choose another name, or pass --force to replace it"
        case .inUse: "stop the UML guest that uses it, then retry"
        case .namedByKernel(_, let pid): "halt that guest (or kill \(pid)), then retry; --force does not override this"
        case .otherCOWsOnBacking: "flatten those guests first (corral cow flatten), or pass --force to invalidate them"
        case .commitPending(_, let cow): "finish it first: corral cow commit \(Shell.quote(cow))"
        case .mtimeUnrepresentable(let backing, _): "set a representable mtime first, e.g. touch \(Shell.quote(backing))"
        case .fingerprintMismatch: "find the original backing file; --force accepts this one anyway"
        case .backingContentDiffers: "rebase without --unsafe: it copies the differing sectors into the COW first"
        case .newBackingSizeMismatch: "a different-size disk needs a new COW: corral cow flatten, then corral cow from-image"
        default: nil
        }
    }
}

extension EngineError: SystemErrorWrapping {
    /// A ``SystemError`` as the engine reports it (see below).
    public init(_ error: SystemError) { self.init(error, path: nil) }

    /// A ``SystemError`` from the system layer, as the engine reports it:
    /// a full disk as ``noSpace(path:)``, anything else naming the call.
    public init(_ error: SystemError, path: String? = nil) {
        let code = error.errno.rawValue
        if code == ENOSPC || code == EDQUOT {
            self = .noSpace(path: path ?? error.object)
        } else {
            self = .system(call: error.call, path: error.object, errno: code)
        }
    }
}
