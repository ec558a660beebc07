@_exported import SystemDriver
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
