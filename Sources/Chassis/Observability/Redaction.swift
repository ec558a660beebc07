import Foundation
import Logging
import Synchronization

/// A kind of personal data that no log line may hold whole, and how to mask it: the last
/// line of defence behind services that never log it in the first place. A system lists
/// its kinds in its definition (``SystemDefinition/redactions``); `msa serve` installs a
/// ``RedactingLogHandler`` with them before anything logs, so every line of every service
/// and the gateway, at every level, error paths included, is masked on its way out.
public struct Redaction: Sendable {
    public let name: String
    private let mask: @Sendable (String) -> String

    public init(_ name: String, mask: @escaping @Sendable (String) -> String) {
        self.name = name
        self.mask = mask
    }

    /// `text` with every occurrence masked.
    public func apply(_ text: String) -> String { mask(text) }

    /// A Korean resident registration number, `YYMMDD-NNNNNNN` or its 13 digits run
    /// together, wherever it stands in a text: masked to the birth date and the first
    /// digit after it (`930619-2******`), the form the seeds show. Any run of exactly 13
    /// digits (with the hyphen after the sixth, or none) is masked, valid or not: a log is
    /// no place to decide which typo still identifies a person.
    public static let koreanResidentNumber = Redaction("Korean resident registration number") { text in
        var bytes = Array(text.utf8)
        func isDigit(_ i: Int) -> Bool { i >= 0 && i < bytes.count && (48...57).contains(bytes[i]) }
        var changed = false
        var i = 0
        while i < bytes.count {
            guard isDigit(i), !isDigit(i - 1) else { i += 1; continue }
            var end = i
            while isDigit(end) { end += 1 }
            let run = end - i
            if run == 13 {
                // 13 digits together: keep six and one, mask six.
                for j in (i + 7)..<end { bytes[j] = UInt8(ascii: "*") }
                changed = true
            } else if run == 6, end < bytes.count, bytes[end] == UInt8(ascii: "-") {
                var last = end + 1
                while isDigit(last) { last += 1 }
                if last - (end + 1) == 7 {
                    for j in (end + 2)..<last { bytes[j] = UInt8(ascii: "*") }
                    changed = true
                    end = last
                }
            }
            i = end
        }
        return changed ? String(decoding: bytes, as: UTF8.self) : text
    }
}

/// A log handler that masks every ``Redaction`` in each line's message, metadata and
/// source before handing it to the handler it wraps.
public struct RedactingLogHandler: LogHandler {
    public var wrapped: any LogHandler
    public let redactions: [Redaction]

    public init(_ wrapped: any LogHandler, redactions: [Redaction]) {
        self.wrapped = wrapped
        self.redactions = redactions
    }

    public var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    public var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue }
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
                    file: String, function: String, line: UInt) {
        // The handler's own metadata is merged here too: a value set on a logger (a
        // request's body, say) is masked like one given with the line.
        let merged = wrapped.metadata.merging(metadata ?? [:]) { _, given in given }
        var clean = wrapped
        clean.metadata = [:]
        clean.log(level: level, message: "\(redact(message.description))", metadata: merged.mapValues(redact), source: redact(source),
                  file: file, function: function, line: line)
    }

    func redact(_ text: String) -> String { redactions.reduce(text) { $1.apply($0) } }

    func redact(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case .string(let text): .string(redact(text))
        case .stringConvertible(let convertible): .string(redact(convertible.description))
        case .array(let values): .array(values.map(redact))
        case .dictionary(let values): .dictionary(values.mapValues(redact))
        }
    }
}

/// The process's logging, installed once.
public enum Logs {
    private static let installed = Mutex(false)

    /// Makes every logger of this process write to standard error at `level` and above
    /// through a ``RedactingLogHandler`` with `redactions` (nothing masked when empty).
    /// Only the first call in a process takes effect (swift-log allows one bootstrap).
    public static func bootstrap(redactions: [Redaction], level: Logger.Level = .info) {
        let first = installed.withLock { done in defer { done = true }; return !done }
        guard first else { return }
        LoggingSystem.bootstrap { label in
            var stream = StreamLogHandler.standardError(label: label)
            stream.logLevel = level
            return redactions.isEmpty ? stream : RedactingLogHandler(stream, redactions: redactions)
        }
    }

    /// The level `MSA_LOG_LEVEL` names (`trace`, `debug`, `info`, `notice`, `warning`,
    /// `error`, `critical`), `info` when unset; nil for any other word.
    public static func level(in environment: [String: String]) -> Logger.Level? {
        guard let name = environment["MSA_LOG_LEVEL"], !name.isEmpty else { return .info }
        return Logger.Level(rawValue: name.lowercased())
    }
}
