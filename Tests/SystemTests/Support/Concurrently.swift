/// Runs `body` in `lanes` concurrent tasks (customers at once); their results, in no
/// particular order.
func concurrently<T: Sendable>(_ lanes: Int, _ body: @escaping @Sendable (Int) async throws -> T) async throws -> [T] {
    try await withThrowingTaskGroup(of: T.self) { group in
        for lane in 0..<lanes { group.addTask { try await body(lane) } }
        return try await group.reduce(into: []) { $0.append($1) }
    }
}
