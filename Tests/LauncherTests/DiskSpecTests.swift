import Testing
@testable import Launcher

@Suite struct DiskSpecTests {
    @Test func plainFile() throws {
        let disk = try DiskSpec(parsing: "1=data.img")
        #expect(disk.unit == 1)
        #expect(disk.file == "data.img")
        #expect(disk.backing == nil)
        #expect(disk.flags.isEmpty)
        #expect(disk.kernelArgument == "ubd1=data.img")
        #expect(disk.deviceName == "ubdb")
    }

    @Test func cowWithBackingAndFlags() throws {
        let disk = try DiskSpec(parsing: "3=/v/guest.cow,/v/base.img:rst")
        #expect(disk.unit == 3)
        #expect(disk.file == "/v/guest.cow")
        #expect(disk.backing == "/v/base.img")
        #expect(disk.flags == [.readOnly, .sync, .noTrim])
        #expect(disk.isReadOnly)
        #expect(disk.kernelArgument == "ubd3rst=/v/guest.cow,/v/base.img")
        #expect(disk.deviceName == "ubdd")
    }

    @Test func letterUnitsAndLimits() throws {
        #expect(try DiskSpec(parsing: "a=x").unit == 0)
        #expect(try DiskSpec(parsing: "p=x").unit == 15)
        #expect(try DiskSpec(parsing: "15=x").kernelArgument == "ubd15=x")
        // Six flags (repeats allowed) is the kernel's maximum.
        #expect(try DiskSpec(parsing: "2=x:rrrrrr").flags.count == 6)
        #expect(try DiskSpec(parsing: "2=x:dc").kernelArgument == "ubd2dc=x")
    }

    @Test(arguments: [
        ("1data.img", "missing '='"),
        ("16=x", "unit '16'"),
        ("q=x", "unit 'q'"),
        ("=x", "unit ''"),
        ("-1=x", "unit '-1'"),
        ("1=", "no file"),
        ("1=a,b,c", "contains ','"),
        ("1=a:b:r", "contains ':'"),
        ("1=a:x", "unknown flag 'x'"),
        ("1=a,:r", "empty backing"),
        ("1=a:rrrrrrr", "at most 6"),
        ("1=a.cow,b.img:d", "'d' (raw) cannot be combined with a backing"),
        ("1=my disk.img", "whitespace"),
    ])
    func invalidForms(text: String, expected: String) {
        do {
            _ = try DiskSpec(parsing: text)
            Issue.record("'\(text)' was accepted")
        } catch {
            #expect("\(error)".contains(expected), "\(error)")
        }
    }

    @Test func pathLengthLimit() throws {
        let ok = "/" + String(repeating: "a", count: 4094)
        #expect(try DiskSpec(parsing: "1=\(ok)").file.utf8.count == 4095)
        #expect(throws: LauncherError.self) { try DiskSpec(parsing: "1=\(ok)a") }
    }

    @Test func memberwiseInitValidatesToo() {
        #expect(throws: LauncherError.self) { try DiskSpec(unit: 16, file: "x") }
        #expect(throws: LauncherError.self) { try DiskSpec(unit: 1, file: "a.cow", backing: "b", flags: [.raw]) }
        #expect(throws: LauncherError.self) { try DiskSpec(unit: 1, file: "a,b") }
    }
}
