#if canImport(Glibc)
import Glibc
#endif
import CorralSystem
import COWFormat

/// Merges a COW into its backing file in place (`uml_moo -d`), writing only
/// the COW's sectors.
///
/// Write order, which is what makes a SIGKILL at any point recoverable by
/// running the same command again:
/// 1. a marker `.<backing>.corral-commit` naming the COW is written and
///    fsynced next to the backing *before* the backing changes;
///    then every range the COW will overwrite is preallocated (fallocate
///    keeps content), so a full disk is found before the first byte
///    changes; on ENOSPC the mtime is put back and the marker removed;
/// 2. the COW's runs are written into the backing (idempotent: the COW is
///    only read, so writing them again gives the same bytes), then fsync;
/// 3. the marker is removed.
/// A re-run that finds its own marker knows the backing's changed mtime is
/// its own doing and finishes the job; a marker naming another COW blocks
/// everything but that COW's commit.
public enum Commit {
    public struct Result: Sendable, Encodable {
        public var backing: String
        public var sectors: UInt64
        public var bytes: UInt64
        public var resumed: Bool
        /// Other COW files on this backing, now invalid (only with force).
        public var invalidated: [String]
    }

    public static func run(
        cow cowPath: String, backing: String? = nil, force: Bool = false,
        progress: ProgressHandler? = nil
    ) throws(EngineError) -> Result {
        let cow = try COWFile(path: cowPath)
        try BitmapSurvey.requireComplete(cow, force: force)
        try cow.requireStandardSectors()
        let backingPath = cow.backingPath(override: backing)
        let marker = CommitMarker(backing: backingPath)
        let cowAbsolute = PathResolution.real(cowPath) ?? PathResolution.absolute(cowPath)

        var resumed = false
        if let pending = marker.read() {
            guard pending == cowAbsolute else { throw .commitPending(backing: backingPath, cow: pending) }
            resumed = true
        }
        // Resuming: the mtime is ours to have changed; the size still must match.
        let backingFile = try cow.openBacking(override: backing, force: force || resumed, writable: true)
        if resumed && !force {
            let actual = try backingFile.status().size
            if actual != cow.header.size {
                throw .backingSizeMismatch(backing: backingPath, header: cow.header.size, actual: actual)
            }
        }
        // The kernel holds a write lock on a COW in use and a read lock on its
        // backing: either makes these fail, naming the holder.
        try cow.file.lock(.read)
        try backingFile.lock(.write)

        let others = try SiblingCOWs.find(backing: backingFile, backingPath: backingPath, excluding: cow)
        if !others.isEmpty && !force && !resumed {
            throw .otherCOWsOnBacking(backing: backingPath, cows: others)
        }

        let dirty = try cow.dirtySectorCount()
        try marker.write(cow: cowAbsolute)
        do {
            try preallocate(cow: cow, in: backingFile, restoringMtimeOnFailure: !resumed)
        } catch {
            // Nothing of the content changed: no commit is pending.
            if !resumed { marker.remove() }
            throw error
        }
        var throttle = ProgressThrottle(progress, total: min(dirty * 512, cow.geometry.size))
        let buffer = IOBuffer(size: Flatten.window)
        let bytes = try Flatten.overlayCOWRuns(cow: cow, onto: backingFile, buffer: buffer, throttle: &throttle)
        try backingFile.sync()
        marker.remove()
        throttle.finish()
        return Result(backing: backingPath, sectors: dirty, bytes: bytes, resumed: resumed, invalidated: others)
    }
}

extension Commit {
    /// Allocates the backing's blocks under every COW run, so ENOSPC (a
    /// sparse backing on a full filesystem) stops the commit while the
    /// backing's content is untouched. Allocation can bump the mtime, which
    /// the COW header depends on: it is restored on failure.
    static func preallocate(cow: COWFile, in backing: OpenFile, restoringMtimeOnFailure: Bool) throws(EngineError) {
        let before = try backing.status()
        let size = cow.geometry.size
        do {
            var supported = true
            try cow.forEachRun { (run) throws(EngineError) in
                guard run.inCOW, supported else { return }
                let lo = min(run.start * 512, size)
                let hi = min(run.end * 512, size)
                if hi > lo { supported = try backing.preallocate(at: lo, length: hi - lo) }
            }
        } catch {
            if restoringMtimeOnFailure {
                try? backing.setModificationTime(seconds: before.mtime, nanoseconds: before.mtimeNanoseconds)
            }
            throw error
        }
    }
}

/// The crash-recovery marker of an in-place commit (see ``Commit``).
///
/// It lives beside the backing, in a directory other users may write, so
/// it is handled through that directory's descriptor: written only as a
/// new file (O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600) and read only when it
/// is a regular file (O_NOFOLLOW|O_NONBLOCK), never through a symlink.
struct CommitMarker {
    let path: String
    let directory: String
    let name: String

    init(backing: String) {
        let (dir, name) = PathResolution.split(backing)
        self.directory = dir
        self.name = ".\(name).corral-commit"
        path = "\(dir)/\(self.name)"
    }

    /// The COW being committed, if a commit was interrupted.
    func read() -> String? {
        guard let dir = try? Directory(directory),
              let file = try? dir.openFile(name, flags: O_RDONLY | O_NONBLOCK),
              let info = try? file.status(), info.isRegular,
              let bytes = try? file.read(upTo: 4096) else { return nil }
        let line = String(decoding: bytes, as: UTF8.self).trimmed
        return line.isEmpty ? nil : line
    }

    func write(cow: String) throws(EngineError) {
        do {
            let dir = try Directory(directory)
            if let existing = try dir.status(of: name) {
                // A stale marker of ours is replaced; anything else is not ours to touch.
                guard existing.isRegular, existing.owner == geteuid() else {
                    throw EngineError.invalidArgument("\(path) is in the way of the commit marker and is not one corral wrote (a symlink, or another user's file); remove it, then commit again")
                }
                try dir.unlink(name)
            }
            let file = try dir.openFile(name, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
            FaultInjection.beforeWrite()
            try file.writeAll(Array((cow + "\n").utf8))
            try file.sync()
            dir.sync()
        } catch let error as EngineError {
            throw error
        } catch let error as SystemError {
            throw EngineError(error, path: path)
        } catch {
            throw .invalidArgument("\(path): \(error)")
        }
    }

    func remove() {
        guard let dir = try? Directory(directory) else { return }
        try? dir.unlink(name)
        dir.sync()
    }
}
