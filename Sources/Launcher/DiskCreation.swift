import COWEngine
import CorralSystem

/// Creates, before the boot, each COW that a `--disk N=COW,BACKING` names
/// but that does not exist yet, with the header the kernel itself would have
/// written (``Create``, spec §3.3): the kernel may write only the disk files
/// themselves, never their directories, so it can no longer create one.
enum DiskCreation {
    /// Returns the refusal line for the first COW that could not be made.
    static func createMissing(_ disks: [DiskSpec]) -> PreflightIssue? {
        for disk in disks where !disk.isReadOnly {
            guard let backing = disk.backing, case .some(.none) = try? FileStatus.of(disk.file) else { continue }
            do {
                // No fingerprint: the kernel writes none, and it would cost a read of the whole backing.
                _ = try Create.run(cow: disk.file, backing: backing, fingerprint: false)
            } catch {
                return PreflightIssue(.failure, "disk \(disk.unit) (\(disk.deviceName)): cannot create COW '\(disk.file)': \(error)",
                                      hint: "create it first with corral cow create '\(disk.file)' '\(backing)'")
            }
        }
        return nil
    }
}
