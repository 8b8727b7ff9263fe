/// An optional that corral's JSON always carries: `null` when there is no
/// value, where synthesized `Codable` would leave the key out. Scripts and
/// the Ansible modules read "unknown" from a null and must not mistake it
/// for an older corral that lacks the key, and without this each such type
/// wrote its `encode(to:)` by hand only to say so.
///
/// It lives in the bottom module because every layer prints JSON (the
/// engine's results, a job's plan, the CLI's reports), not because it
/// touches the system.
@propertyWrapper
public struct NullWhenAbsent<Value: Codable & Sendable>: Codable, Sendable {
    public var wrappedValue: Value?

    public init(wrappedValue: Value?) {
        self.wrappedValue = wrappedValue
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        wrappedValue = container.decodeNil() ? nil : try container.decode(Value.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let wrappedValue { try container.encode(wrappedValue) } else { try container.encodeNil() }
    }
}

extension NullWhenAbsent: Equatable where Value: Equatable {}

extension KeyedDecodingContainer {
    /// A missing key reads as nil, as it would for a plain optional
    /// (synthesized decoding asks for the wrapper, which is not optional).
    public func decode<Value>(_ type: NullWhenAbsent<Value>.Type, forKey key: Key) throws -> NullWhenAbsent<Value> {
        try decodeIfPresent(type, forKey: key) ?? NullWhenAbsent(wrappedValue: nil)
    }
}
