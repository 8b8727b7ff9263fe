import Launcher

/// One `# disk:` line of a template header: which unit a parameter's file
/// is attached as, and what the job may do to it.
///
///     # disk: UNIT ROLE PARAM [size-of=PARAM] [cow-over=PARAM] [force=PARAM] [writable-if=PARAM]
public struct TemplateDisk: Sendable, Equatable, Codable {
    public enum Role: String, Sendable, Codable {
        /// Attached read-only (flag r); never written. Mixed pages: the job
        /// reads a normalized temporary copy instead.
        case source
        /// Changed by the job: a sparse copy is attached and renamed over the
        /// original only when every step succeeded (unless `--in-place`).
        case target
        /// A new file, written under a temporary name and renamed into place
        /// at the end; an existing one only with the `force` parameter.
        case output
    }

    public var unit: Int
    public var role: Role
    /// The parameter holding the host path.
    public var parameter: String
    /// Output: a sparse raw file as large as this parameter's disk (its
    /// virtual size when it is a COW).
    public var sizeOf: String?
    /// Output: a new COW over the file this parameter names.
    public var cowOver: String?
    /// Output: reuse an existing file when this parameter is yes.
    public var forceParameter: String?
    /// Source: becomes a target when this parameter is yes.
    public var writableIf: String?

    public init(unit: Int, role: Role, parameter: String, sizeOf: String? = nil, cowOver: String? = nil,
                forceParameter: String? = nil, writableIf: String? = nil) {
        self.unit = unit
        self.role = role
        self.parameter = parameter
        self.sizeOf = sizeOf
        self.cowOver = cowOver
        self.forceParameter = forceParameter
        self.writableIf = writableIf
    }

    /// The guest device, `/dev/ubdb` for unit 1.
    public var device: String {
        "/dev/" + DiskSpec.deviceName(unit: unit)
    }

    /// Whether the job changes this existing disk of the guest: a target,
    /// or a source whose `writable-if` parameter is yes (an output is a
    /// new file, not the guest's).
    public func changesGuest(_ values: ParameterValues) -> Bool {
        role == .target || (role == .source && values.isOn(writableIf))
    }
}
