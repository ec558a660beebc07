import Foundation

/// Random identifiers for events and requests.
public enum RandomID {
    /// A random (version 4) UUID in lower case. Foundation's `UUID()` opens and reads
    /// `/dev/urandom` on every call on Linux; every event and request makes one, so this
    /// draws from the system generator (`getrandom`) instead.
    public static func uuid() -> String {
        var generator = SystemRandomNumberGenerator()
        var b = [UInt8](repeating: 0, count: 16)
        withUnsafeBytes(of: (generator.next() as UInt64, generator.next() as UInt64)) { b = Array($0) }
        b[6] = (b[6] & 0x0F) | 0x40
        b[8] = (b[8] & 0x3F) | 0x80
        let uuid = UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
        return uuid.uuidString.lowercased()
    }
}
