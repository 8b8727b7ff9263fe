import COWEngine

/// Removes what a crashed corral left behind and says so, one note per file.
enum LeftoverNotes {
    /// Leftovers of earlier runs that wrote `output`.
    static func sweep(output: String) {
        report(LeftoverOutputs.sweep(output: output))
    }

    /// Every corral leftover in `directory` (for `cow check`).
    static func sweep(directory: String) {
        report(LeftoverOutputs.sweep(directory: directory))
    }

    private static func report(_ leftovers: [LeftoverOutputs.Leftover]) {
        for l in leftovers {
            if l.removed {
                Console.note("removed \(l.path) (\(Console.bytes(l.size))), a half-written output an interrupted corral run left behind")
            } else {
                Console.warning("\(l.path) (\(Console.bytes(l.size))) is a half-written output an interrupted corral run left behind, and could not be removed; delete it")
            }
        }
    }
}
