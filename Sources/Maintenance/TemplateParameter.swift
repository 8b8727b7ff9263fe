/// One `# param:` line of a template header: a name the job's command line
/// fills in, with a default when the line gives `name=default`.
public struct TemplateParameter: Sendable, Equatable, Codable {
    public var name: String
    /// nil: required.
    public var defaultValue: String?
    public var summary: String

    public init(name: String, defaultValue: String?, summary: String) {
        self.name = name
        self.defaultValue = defaultValue
        self.summary = summary
    }

    /// Shell variable names only, so the value can be assigned in the guest
    /// script without any textual substitution into its body.
    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || ("a"..."z").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ("a"..."z").contains($0) || ("0"..."9").contains($0) }
    }
}
