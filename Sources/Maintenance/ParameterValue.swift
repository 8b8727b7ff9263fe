/// A template parameter's value as the host knows it: text, or a yes/no
/// that a command-line flag set.
///
/// Why typed: the guest gets every value as a shell string, but the host
/// itself reads some (a disk's `force=` and `writable-if=` parameters). A
/// flag stays a `Bool` on the host side and becomes "yes"/"no" only in the
/// guest script; only text (`maint job --set KEY=VALUE`, a template's
/// default) is ever read as a yes/no.
public enum ParameterValue: Sendable, Equatable, Codable, ExpressibleByStringLiteral {
    case text(String)
    case flag(Bool)

    public init(stringLiteral value: String) { self = .text(value) }

    /// What the guest script's variable holds.
    public var shellValue: String {
        switch self {
        case .text(let text): text
        case .flag(let on): on ? "yes" : "no"
        }
    }

    /// Whether the value says yes: a flag as set; text when it is yes, 1,
    /// true or on (any case), as a template author would write it.
    public var isOn: Bool {
        switch self {
        case .flag(let on): on
        case .text(let text): ["yes", "1", "true", "on"].contains(text.lowercased())
        }
    }
}

/// A job's parameters, with the template's defaults applied.
public typealias ParameterValues = [String: ParameterValue]

extension Dictionary where Key == String, Value == ParameterValue {
    /// The values as the guest and a dry run's plan show them.
    var shellValues: [String: String] { mapValues(\.shellValue) }

    /// The path a disk parameter names; nil when not given or empty.
    func path(_ parameter: String) -> String? {
        guard let value = self[parameter]?.shellValue, !value.isEmpty else { return nil }
        return value
    }

    /// Whether a yes/no parameter (a disk's `force=` or `writable-if=`) is on.
    func isOn(_ parameter: String?) -> Bool {
        parameter.flatMap { self[$0] }?.isOn ?? false
    }
}
