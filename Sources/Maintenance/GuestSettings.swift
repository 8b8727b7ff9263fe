import Launcher

/// What every maintenance boot is told, whichever request carries it (a
/// template job's ``JobRequest``, the rescue shell's ``ShellRequest``).
public struct GuestSettings: Sendable, Codable {
    public var kernel = Resources.defaultKernel
    public var memory = "256M"
    /// `--log`: the console transcript.
    public var logPath: String?
    public var environment: [String: String] = [:]
    public var verbose = false
    /// Told what the boot has to say (``BootOptions/events``): the CLI prints it.
    public var bootEvents: BootEventHandler?
    /// The caller's console (``BootOptions/streams``): `maint run`'s output
    /// and `maint shell`'s terminal; nil for an `--each` worker.
    public var streams: ConsoleStreams?

    public init() {}

    /// The environment is not sent to an `--each` worker: it inherits the
    /// same one from its parent. Nor are the events and the console: the
    /// worker's stdout carries its report.
    enum CodingKeys: String, CodingKey { case kernel, memory, logPath, verbose }

    /// The release of the kernel the job boots, when corral has its profile.
    var kernelRelease: String? { Resources.kernelRelease(named: kernel) }
}
