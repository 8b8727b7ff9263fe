import CorralSystem

/// What stops the helper before the kernel runs, in the words the launcher
/// passes on to the user (it reads them off the error pipe as they are).
public enum HelperError: Error, Equatable, Sendable, CustomStringConvertible, SystemErrorWrapping {
    /// `_kernel-exec` run by a person rather than by `corral boot`.
    case runByHand
    /// The launcher had gone when the spec arrived.
    case launcherGone
    /// A message from the launcher that does not decode.
    case badMessage(String)
    case system(SystemError)

    public init(_ error: SystemError) {
        self = .system(error)
    }

    public var description: String {
        switch self {
        case .runByHand: "_kernel-exec is internal to corral boot; run corral boot instead"
        case .launcherGone: "corral exited before the kernel started"
        case .badMessage(let why): "the launcher's message to the kernel helper does not decode: \(why)"
        case .system(let error): "\(error.call)(\(error.object)) failed: \(SystemError.describe(error.errno.rawValue))"
        }
    }
}
