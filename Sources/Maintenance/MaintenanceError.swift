/// Why a maintenance job could not be set up or finished. Each message is
/// one line: what is wrong, then what to do.
public enum MaintenanceError: Error, Sendable, Equatable, CustomStringConvertible {
    case templateNotFound(name: String, searched: [String])
    case invalidTemplate(path: String, line: Int, reason: String)
    case missingParameter(template: String, name: String)
    case unknownParameter(template: String, name: String)
    case outputExists(path: String)
    case inputMissing(option: String, path: String)
    case mixedPagesReadOnly(path: String, pages: UInt64, kernel: String)
    case io(String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .templateNotFound(name, searched):
            return "no template named '\(name)' (searched \(searched.joined(separator: ", "))); see corral maint list"
        case let .invalidTemplate(path, line, reason):
            return "\(path):\(line): \(reason); fix the template header"
        case let .missingParameter(template, name):
            return "template '\(template)' needs parameter '\(name)'; give it (see corral maint show \(template))"
        case let .unknownParameter(template, name):
            return "template '\(template)' has no parameter '\(name)'; see corral maint show \(template)"
        case let .outputExists(path):
            return "output '\(path)' already exists; pass --force to reuse it, or choose another path"
        case let .inputMissing(option, path):
            // Not the boot preflight's "create it": a job works on an
            // existing guest, and an empty file would only fail later.
            return "\(option) '\(path)' does not exist; give the path of the guest's existing COW or image"
        case let .mixedPagesReadOnly(path, pages, kernel):
            return "'\(path)' has \(pages) mixed 4 KiB page(s) that \(kernel) reads wrongly, and no normalized copy could be made next to it; run corral cow normalize '\(path)' first"
        case let .io(message):
            return message
        case let .invalidArgument(message):
            return message
        }
    }
}
