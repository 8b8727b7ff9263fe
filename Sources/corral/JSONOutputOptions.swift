import ArgumentParser

/// `--json`, and `--output=json` as qemu-img spells it: one switch for every
/// command with a machine-readable result.
///
/// The JSON style, everywhere: keys in camelCase, sorted; numbers as numbers
/// (byte offsets and sizes in bytes, durations in seconds); no prose inside
/// data fields except the `reason`/`message` fields that exist to carry it;
/// a result of a command that may write a file carries `changed`.
struct JSONOutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print the result as JSON on stdout.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("Output format: human (default) or json (the same as --json).", valueName: "FORMAT"))
    var output: String?

    var isJSON: Bool { json || output == "json" }

    func validate() throws {
        if let output, output != "json" && output != "human" {
            throw ValidationError("--output must be json or human")
        }
    }
}
