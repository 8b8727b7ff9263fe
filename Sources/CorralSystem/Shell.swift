/// POSIX shell quoting, for the commands corral prints (hints, --dry-run)
/// and the scripts it hands a guest.
public enum Shell {
    /// `s` as one sh word: unchanged when it holds only characters sh
    /// leaves alone, else single-quoted.
    public static func quote(_ s: String) -> String {
        let safe = s.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                || "/._-+=:,@%".unicodeScalars.contains($0)
        }
        if safe && !s.isEmpty { return s }
        var out = "'"
        for c in s { out += c == "'" ? "'\\''" : String(c) }
        return out + "'"
    }
}
