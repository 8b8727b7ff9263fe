/// The caller's side of a boot's console: the descriptor what the user types
/// comes from, and the one the guest command's output goes to.
///
/// The caller chooses them; the launcher never assumes stdin and stdout. The
/// CLI passes its own stdin and stdout. A caller without a console passes
/// none (``BootOptions/streams`` nil): the guest then sees the end of its
/// input at once, and the command's output reaches only the transcript and
/// the observer (an `--each` worker, whose stdout carries its JSON report).
public struct ConsoleStreams: Sendable, Equatable {
    public var input: Int32
    public var output: Int32

    public init(input: Int32, output: Int32) {
        self.input = input
        self.output = output
    }
}
