import CorralSystem
import Launcher

/// Prints a boot's events (``BootEvent``) on stderr, as they come: each
/// diagnostic as one plain `corral: …` line (no colour: these lines share
/// the terminal with the guest's console), the kernel's text as it is.
enum BootEventPrinter {
    static let handler: BootEventHandler = { event in print(event) }

    static func print(_ event: BootEvent) {
        switch event {
        case .diagnostic(let diagnostic):
            Output.writeAll(2, "corral: \(diagnostic)\n")
        case .kernelText(let bytes):
            Output.writeAll(2, bytes)
        case .lastWords(let bytes):
            Output.writeAll(2, bytes)
            if bytes.last != 10 { Output.writeAll(2, "\n") }
        }
    }
}
