import Chassis

/// Why a scenario step failed, in a sentence that names what was expected and what came.
public struct StepFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Runs numbered steps, printing `✓` or `✗` with what each saw; a failed step does not
/// stop the scenario, so one run shows everything that is wrong.
public final class ScenarioRunner {
    public private(set) var failed = 0
    public private(set) var passed = 0
    private var number = 0

    public init() {}

    public func step(_ title: String, _ body: () async throws -> String) async {
        number += 1
        let started = ContinuousClock.now
        do {
            let detail = try await body()
            passed += 1
            print("✓ \(number). \(title) — \(detail) (\(started.duration(to: .now).wholeMilliseconds) ms)")
        } catch {
            failed += 1
            print("✗ \(number). \(title) — \(error)")
        }
    }
}

/// Checks `answer` has `status`, or fails with what came instead.
public func expect(_ answer: Answer, _ status: Int, _ what: String) throws {
    guard answer.status == status else { throw StepFailure("\(what): expected \(status), got \(answer.summary)") }
}

/// Asks `probe` until it returns a value, or throws a ``StepFailure`` naming `what` once
/// `timeout` passed. Polls every `poll`: events take a moment to travel, so whatever waits
/// for one — a scenario's step, a test — waits on the outcome with a deadline, never on a
/// fixed sleep, and is as fast as the system. The one `eventually` of the project.
public func eventually<T>(_ what: @autoclosure () -> String = "condition", timeout: Duration = .seconds(20),
                          poll: Duration = .milliseconds(20), isolation: isolated (any Actor)? = #isolation,
                          file: StaticString = #filePath, line: UInt = #line,
                          _ probe: () async throws -> T?) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    var lastError: (any Error)?
    while true {
        do {
            if let value = try await probe() { return value }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            lastError = error
        }
        guard ContinuousClock.now < deadline else {
            throw StepFailure("\(what()) did not hold within \(timeout) (\(file):\(line))" + (lastError.map { "; last error: \($0)" } ?? ""))
        }
        try await Task.sleep(for: poll)
    }
}

/// ``eventually(_:timeout:poll:isolation:file:line:_:)`` for a condition.
public func eventually(_ what: @autoclosure () -> String = "condition", timeout: Duration = .seconds(20),
                       poll: Duration = .milliseconds(20), isolation: isolated (any Actor)? = #isolation,
                       file: StaticString = #filePath, line: UInt = #line,
                       _ condition: () async throws -> Bool) async throws {
    let _: Bool = try await eventually(what(), timeout: timeout, poll: poll, file: file, line: line) {
        try await condition() ? true : nil
    }
}
