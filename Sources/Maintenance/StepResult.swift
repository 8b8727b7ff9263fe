/// How one step of a job ended.
public struct StepResult: Sendable, Equatable, Codable {
    public var name: String
    /// The command's exit status; nil when it never ended (timeout, lost).
    public var status: Int32?
    public var seconds: Double
    /// The step's last output lines, kept for a failed step only.
    public var outputTail: [String]

    public init(name: String, status: Int32?, seconds: Double, outputTail: [String] = []) {
        self.name = name
        self.status = status
        self.seconds = seconds
        self.outputTail = outputTail
    }
}
