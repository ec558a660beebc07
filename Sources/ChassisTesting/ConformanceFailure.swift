/// A conformance case or a harness wait that found behaviour other than the contract's.
///
/// `ChassisTesting` does not depend on a test framework, so cases report by throwing this;
/// Swift Testing and XCTest both fail the test with its description.
public struct ConformanceFailure: Error, CustomStringConvertible {
    public let message: String
    public let file: StaticString
    public let line: UInt

    public init(_ message: String, file: StaticString = #filePath, line: UInt = #line) {
        self.message = message
        self.file = file
        self.line = line
    }

    public var description: String { "\(message) (\(file):\(line))" }
}

/// Throws a ``ConformanceFailure`` with `message` unless `condition` holds.
public func check(_ condition: Bool, _ message: @autoclosure () -> String,
                  file: StaticString = #filePath, line: UInt = #line) throws {
    guard condition else { throw ConformanceFailure(message(), file: file, line: line) }
}

/// Returns once `condition` holds; throws a ``ConformanceFailure`` if it still does not
/// after `timeout`. Polls every `poll`: tests wait on outcomes with a deadline, never on a
/// fixed sleep, so they are as fast as the system and fail only when it is stuck.
public func eventually(_ what: @autoclosure () -> String = "condition",
                       timeout: Duration = .seconds(10), poll: Duration = .milliseconds(10),
                       isolation: isolated (any Actor)? = #isolation,
                       file: StaticString = #filePath, line: UInt = #line,
                       _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return }
        guard ContinuousClock.now < deadline else {
            throw ConformanceFailure("\(what()) did not hold within \(timeout)", file: file, line: line)
        }
        try await Task.sleep(for: poll)
    }
}
