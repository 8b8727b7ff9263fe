import Foundation
import Testing
import TestSupport
@testable import Maintenance

/// Attack 2 of issue 13: a user gives maint a `chmod 4755` file as a
/// writable disk; root's staged copy must not come back as a root-owned
/// set-user-ID program, and the user keeps their file.
@Suite(.serialized) struct StagedDiskOwnershipTests {
    @Test func stagedCopyKeepsOwnerAndDropsSetIDBits() throws {
        let (user, dir) = try TestUser.withDirectory("maint", scratch: "safe-maint")
        let disk = dir("disk")
        let planted = try user.shell("cp /usr/bin/id \(disk) && chmod 4755 \(disk) && chgrp \(user.gid) \(disk)")
        try #require(planted.status == 0, "\(planted.summary)")

        do {
            let staged = try StagedDisk.target(
                TemplateDisk(unit: 0, role: .target, parameter: "disk"), path: disk, inPlace: false)
            try staged.commit()
        }

        var st = stat()
        try #require(stat(disk, &st) == 0)
        #expect(st.st_uid == user.uid, "the copy is owned by uid \(st.st_uid), not the file's owner")
        #expect(st.st_gid == user.gid)
        #expect(st.st_mode & 0o7000 == 0, "set-id or sticky bits carried: \(String(st.st_mode & 0o7777, radix: 8))")
        #expect(st.st_mode & 0o777 == 0o755)
        // The attack's payoff: run it as the user; it must not run with euid 0.
        let ran = try user.shell("\(disk) -u")
        #expect(ran.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == String(user.uid), "\(ran.summary)")
    }
}
