import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

extension Reliability {
    /// The console under the default sandbox, on a real terminal (tmux).
    @Suite(.enabled(if: consoleTmux != nil, "needs tmux"))
    struct ConsoleTests {

        /// A resize of the user's terminal reaches the sandboxed guest: UML's
        /// winch helper must be able to make the pty its controlling terminal.
        @Test func windowSizeReachesTheSandboxedGuest() throws {
            try KernelUnderTest.require(root: true)
            let tmux = try #require(consoleTmux)
            try Rig.withScratch { dir in
                // TMPDIR holds the boot's uml_dir: the kernel's own uid must
                // search it (a private one is refused, not run as root).
                chmod(dir.path, 0o755)
                let socket = "crl-\(dir.lastPathComponent)"
                let log = dir.appendingPathComponent("boot.log").path
                let done = dir.appendingPathComponent("done").path
                // system(3), not Foundation's Process: a daemonizing tmux can leave
                // Process.waitUntilExit waiting forever.
                func run(_ command: String) -> Int32 { system(command) }
                defer { _ = run("\(tmux) -L \(socket) kill-server </dev/null >/dev/null 2>&1") }
                let started = run("""
                    \(tmux) -L \(socket) -f /dev/null new-session -d -x 100 -y 30 \
                      "TMPDIR='\(dir.path)' '\(TestPaths.corral)' boot --log '\(log)' --command 'stty size; read x; stty size'; echo \\$? > '\(done)'" </dev/null >/dev/null 2>&1
                    """)
                try #require(started == 0, "tmux did not start")
                func logText() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
                var waited = 0.0
                while !logText().contains("output| 30 100") && waited < 20 { Thread.sleep(forTimeInterval: 0.1); waited += 0.1 }
                #expect(logText().contains("output| 30 100"), "\(logText())")
                #expect(run("\(tmux) -L \(socket) resize-window -x 120 -y 40 </dev/null >/dev/null 2>&1") == 0)
                Thread.sleep(forTimeInterval: 0.5)
                #expect(run("\(tmux) -L \(socket) send-keys Enter </dev/null >/dev/null 2>&1") == 0)
                waited = 0
                while !FileManager.default.fileExists(atPath: done) && waited < 20 { Thread.sleep(forTimeInterval: 0.1); waited += 0.1 }
                #expect(logText().contains("output| 40 120"), "\(logText())")
                #expect(!logText().contains("winch_thread"), "\(logText())")
                #expect((try? String(contentsOfFile: done, encoding: .utf8)) == "0\n")
                #expect(HostProcesses.marked(dir.path).isEmpty)
                #expect(Rig.umidDirectories(in: dir).isEmpty)
            }
        }
    }
}

/// tmux, which gives corral a terminal that the test can resize.
let consoleTmux: String? = ["/usr/bin/tmux", "/bin/tmux", "/usr/local/bin/tmux"]
    .first { FileManager.default.isExecutableFile(atPath: $0) }
