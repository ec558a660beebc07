import Chassis
import Logging
import Synchronization
import Testing

/// Personal data is masked in every log line (``RedactingLogHandler``), whatever form it
/// is written in and wherever in the line it stands.
@Suite struct RedactionTests {
    static let number = Redaction.koreanResidentNumber

    @Test(arguments: [
        ("890309-2766876", "890309-2******"),
        ("9306192345678", "9306192******"),
        (#"{"userName":"Lee","userRegNumber":"930619-2345678"}"#, #"{"userName":"Lee","userRegNumber":"930619-2******"}"#),
        ("two: 890309-2766876 and 930619-2352628.", "two: 890309-2****** and 930619-2******."),
        ("invalid still masked: 999999-9999999", "invalid still masked: 999999-9******"),
    ])
    func aResidentNumberIsMaskedInAnyText(_ text: String, _ masked: String) {
        #expect(Self.number.apply(text) == masked)
    }

    @Test(arguments: ["010-1234-5678", "20210624", "12345678901234", "123456-12345678", "1234567-1234567", "match 42 paid 20000 won", ""])
    func otherNumbersAreLeftAlone(_ text: String) {
        #expect(Self.number.apply(text) == text)
    }

    @Test func theHandlerMasksMessageMetadataAndSource() {
        let lines = Lines()
        var logger = Logger(label: "test") { _ in RedactingLogHandler(Capture(lines: lines), redactions: [Self.number]) }
        logger.logLevel = .trace
        logger[metadataKey: "person"] = "890309-2766876"
        logger.trace("booking for 930619-2345678 failed",
                     metadata: ["body": .stringConvertible(#"{"userRegNumber":"930619-2345678"}"#),
                                "nested": .dictionary(["list": .array(["9306192345678"])]), "matchId": "42"],
                     source: "user 930619-2345678")

        let line = lines.all.first
        #expect(line?.message == "booking for 930619-2****** failed")
        #expect(line?.metadata["person"] == "890309-2******")
        #expect(line?.metadata["body"]?.description == #"{"userRegNumber":"930619-2******"}"#)
        #expect(line?.metadata["nested"]?.description.contains("9306192******") == true)
        #expect(line?.metadata["matchId"] == "42")
        #expect(line?.source == "user 930619-2******")
        #expect(line?.level == .trace)
    }
}

/// Lines a ``Capture`` handler was given.
final class Lines: Sendable {
    struct Line: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: Logger.Metadata
        var source: String
    }

    private let lines = Mutex<[Line]>([])
    var all: [Line] { lines.withLock { $0 } }
    func append(_ line: Line) { lines.withLock { $0.append(line) } }
}

/// A log handler that keeps what it is given (its own metadata merged in).
struct Capture: LogHandler {
    let lines: Lines
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata given: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        lines.append(.init(level: level, message: message.description, metadata: metadata.merging(given ?? [:]) { $1 }, source: source))
    }
}
