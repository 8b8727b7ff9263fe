import CorralSystem
import Foundation
import Testing

/// /proc/PID/stat is read after the last ')', because a command name may
/// hold spaces and parentheses; a line that is not one parses to nil.
@Suite struct ProcessStatTests {
    @Test func fieldsAreCountedAfterTheCommandName() throws {
        let odd = try #require(ProcessStat(line: Array("42 (a) b) S 7 40 41 0 -1".utf8)))
        #expect(odd.parent == 7 && odd.group == 40 && odd.session == 41 && odd.state == "S")
        #expect(ProcessStat(line: Array("42 (linux.uml) S 1234 42 42 0 -1".utf8))?.parent == 1234)
        #expect(ProcessStat(line: Array("no parenthesis".utf8)) == nil)
        #expect(ProcessStat(line: Array("42 (short) S 7".utf8)) == nil)
    }

    @Test func theLiveProcessIsReadFromProc() throws {
        let own = try #require(ProcessStat.of(getpid()))
        #expect(own.parent == getppid() && own.session == getsid(0) && own.group == getpgrp())
        #expect(ProcessStat.of(Int32.max) == nil)
    }
}
