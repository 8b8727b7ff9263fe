import Foundation
import TestSupport
import Testing

/// The zsh and fish completions corral generates, used as a person uses
/// them: the script is loaded into a real interactive zsh or fish on a
/// terminal (a tmux pane), a half-typed command line gets a Tab, and the
/// screen is read back. (fish's `complete -C` and a non-interactive zsh do
/// not run the custom completions the way a Tab does: fish 3.6 gives them no
/// cursor position there.) bash: CompletionTests.
@Suite(.serialized) struct ShellCompletionTests {
    enum Shell: String, CaseIterable {
        case zsh, fish
    }

    /// One interactive shell in its own tmux server, in `directory`, with
    /// the built corral first on PATH and its completion script loaded.
    final class Pane {
        let socket = "corral-complete-\(UUID().uuidString.prefix(8))"

        init(_ shell: Shell, in directory: Scratch) throws {
            let script = try runProcess(TestPaths.corral, ["--generate-completion-script", shell.rawValue])
            try #require(script.status == 0, "\(script.summary)")
            let start: String
            switch shell {
            case .zsh:
                // A completion function is found on fpath by its #compdef file name.
                try script.stdout.write(toFile: directory.file("_corral"), atomically: true, encoding: .utf8)
                try "fpath=(\(directory.path) $fpath); autoload -U compinit; compinit -u -D; PS1='PS> '\n"
                    .write(toFile: directory.file(".zshrc"), atomically: true, encoding: .utf8)
                // -d: no /etc/zsh start-up files, only ours (ZDOTDIR).
                start = "zsh -d -i"
            case .fish:
                try script.stdout.write(toFile: directory.file("corral.fish"), atomically: true, encoding: .utf8)
                start = "fish --no-config -C 'function fish_prompt; echo \"PS> \"; end; source \(directory.file("corral.fish"))'"
            }
            let path = (TestPaths.corral as NSString).deletingLastPathComponent + ":/usr/bin:/bin"
            let environment = "env -i PATH=\(path) HOME=\(directory.path) XDG_CONFIG_HOME=\(directory.path) XDG_DATA_HOME=\(directory.path) ZDOTDIR=\(directory.path) TERM=xterm LANG=C.UTF-8"
            // The tmux server must not hold the test's pipes: all its stdio is /dev/null.
            try tmux("new-session -d -x 150 -y 30 -c \(directory.path) \(Self.quote("\(environment) \(start)"))")
        }

        static func quote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

        /// Through system(3): the tmux server the first call forks must not
        /// inherit a descriptor Foundation's Process waits on.
        func tmux(_ arguments: String) throws {
            let status = system("tmux -L \(socket) -f /dev/null \(arguments) </dev/null >/dev/null 2>&1")
            try #require(status == 0, "tmux \(arguments): status \(status)")
        }

        var screen: String {
            (try? runProcess("/usr/bin/tmux", ["-L", socket, "capture-pane", "-p"]).stdout) ?? ""
        }

        /// Waits (up to 20 s) until the screen satisfies `done`; returns it.
        func wait(_ done: (String) -> Bool) -> String {
            let deadline = Date().addingTimeInterval(20)
            var text = screen
            while !done(text) && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.1)
                text = screen
            }
            return text
        }

        deinit { _ = try? tmux("kill-server") }
    }

    /// The screen after typing `line` and a Tab into a fresh shell.
    static func tab(_ shell: Shell, _ line: String, in directory: Scratch, until done: @escaping (String) -> Bool) throws -> String {
        let pane = try Pane(shell, in: directory)
        // (capture-pane drops the prompt's trailing space.)
        let ready = pane.wait { $0.contains("PS>") }
        try #require(ready.contains("PS>"), "\(shell) never showed its prompt: \(ready)")
        try pane.tmux("send-keys -l \(Pane.quote(line))")
        let typed = line.trimmingCharacters(in: .whitespaces)
        _ = pane.wait { $0.contains(typed) }
        try pane.tmux("send-keys Tab")
        return pane.wait(done)
    }

    /// The command line (the prompt's row) on `screen`.
    static func commandLine(_ screen: String) -> String {
        screen.split(separator: "\n").first { $0.hasPrefix("PS>") }.map { String($0.dropFirst(3)) }?
            .trimmingCharacters(in: .whitespaces) ?? ""
    }

    /// The words offered below the command line.
    static func offered(_ screen: String) -> Set<String> {
        let rows = screen.split(separator: "\n").drop { !$0.hasPrefix("PS>") }.dropFirst()
        // fish shows "word  (description)": the word is each row's first column.
        return Set(rows.flatMap { row in
            row.split(separator: " ").map(String.init).filter { !$0.hasPrefix("(") && !$0.hasSuffix(")") }
        })
    }

    static func fixture() throws -> Scratch {
        let dir = try Scratch("corral-shell-complete")
        for name in ["guest.cow", "base.img"] {
            _ = FileManager.default.createFile(atPath: dir.file(name), contents: Data())
        }
        return dir
    }

    @Test(arguments: Shell.allCases) func filesForCOWAndBackingArguments(shell: Shell) throws {
        try #require(TestEnvironment.which(shell.rawValue, path: "/usr/bin:/bin") != nil, "\(shell) is missing: make deps installs it")
        let dir = try Self.fixture()
        for (typed, completed) in [("corral cow flatten gu", "corral cow flatten guest.cow"),
                                   ("corral cow create guest.cow ba", "corral cow create guest.cow base.img"),
                                   ("corral boot --disk 1=ba", "corral boot --disk 1=base.img")] {
            let screen = try Self.tab(shell, typed, in: dir) { Self.commandLine($0) == completed }
            #expect(Self.commandLine(screen) == completed, "\(shell): \(typed)<Tab>:\n\(screen)")
        }
    }

    @Test(arguments: Shell.allCases) func optionValues(shell: Shell) throws {
        try #require(TestEnvironment.which(shell.rawValue, path: "/usr/bin:/bin") != nil, "\(shell) is missing: make deps installs it")
        let dir = try Self.fixture()
        for (typed, values) in [("corral boot --sandbox ", ["enforce", "off"]),
                                ("corral boot --raid6 ", ["auto", "on", "off"])] {
            let screen = try Self.tab(shell, typed, in: dir) { Set(values).isSubset(of: Self.offered($0)) }
            #expect(Set(values).isSubset(of: Self.offered(screen)), "\(shell): \(typed)<Tab>:\n\(screen)")
            // Only the mode names: no file of the directory among them.
            #expect(!Self.offered(screen).contains("guest.cow"), "\(shell): \(typed)<Tab>:\n\(screen)")
        }
    }

    @Test(arguments: Shell.allCases) func templateNames(shell: Shell) throws {
        try #require(TestEnvironment.which(shell.rawValue, path: "/usr/bin:/bin") != nil, "\(shell) is missing: make deps installs it")
        let dir = try Self.fixture()
        let one = try Self.tab(shell, "corral maint job fs", in: dir) { Self.commandLine($0) == "corral maint job fsck" }
        #expect(Self.commandLine(one) == "corral maint job fsck", "\(shell):\n\(one)")
        let all = try Self.tab(shell, "corral maint show ", in: dir) { Self.offered($0).isSuperset(of: ["fsck", "install-modules", "run"]) }
        #expect(Self.offered(all).isSuperset(of: ["fsck", "install-modules", "run"]), "\(shell):\n\(all)")
        #expect(!Self.offered(all).contains("guest.cow"), "\(shell):\n\(all)")
    }
}
