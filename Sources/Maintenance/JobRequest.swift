import Launcher

/// Everything one maintenance job needs, as given on the command line.
public struct JobRequest: Sendable, Codable {
    public var template: Template
    /// Parameter values by name; missing ones take the template's defaults.
    public var parameters: ParameterValues = [:]
    /// Disks given directly (`run --disk`): flag r makes a source, anything
    /// else a target.
    public var disks: [DiskSpec] = []
    /// Work on targets directly instead of on a copy renamed at the end.
    public var inPlace = false
    public var limits = StepMonitor.Limits()
    public var settings = GuestSettings()
    /// Ordinary output of the steps goes to stdout as it arrives (`run`).
    public var passOutput = false
    /// Told of each step's start and end and of each output line (progress
    /// on a terminal, `maint run --json`'s output).
    public var events: StepEventHandler?
    /// Where the built-in step library is, for user templates without a lib/.
    public var library: TemplateLibrary?
    /// A dry run's boot: every disk attached read-only, outputs not made,
    /// `dry_run=yes` for the template, nothing committed (``DryRun``).
    public var dryRun = false

    public init(template: Template) {
        self.template = template
    }

    /// Everything but `events`, a closure: what an `--each` worker process
    /// is handed (``EachRunner``).
    enum CodingKeys: String, CodingKey {
        case template, parameters, disks, inPlace, limits, settings, passOutput, library, dryRun
    }

    /// The template's parameters with defaults applied; unknown or missing
    /// ones refused.
    public func resolvedParameters() throws(MaintenanceError) -> ParameterValues {
        var values: ParameterValues = [:]
        for name in parameters.keys where !template.parameters.contains(where: { $0.name == name }) {
            throw .unknownParameter(template: template.name, name: name)
        }
        for parameter in template.parameters {
            if let value = parameters[parameter.name] {
                values[parameter.name] = value
            } else if let value = parameter.defaultValue {
                values[parameter.name] = .text(value)
            } else {
                throw .missingParameter(template: template.name, name: parameter.name)
            }
        }
        return values
    }
}
