import Chassis
import ChassisTesting

/// A service of one resource, `notes` (created, listed, searched by text; never changed
/// or deleted), served on a free port: for the edges every service shares.
enum Notes {
    struct Note: Entity {
        static let collection = "notes"
        var id: Int64?
        var text: String
    }

    static let definition = ServiceDefinition(name: "notes") { router, runtime in
        Resource<Note>(store: runtime.store).creating(Note.self) { note, store in
            try await store.write { tx in try await tx.save(note) }
        }.searchable(by: "text").register(on: router)
    }

    /// Runs `body` with the service's port and store.
    static func withServer(_ body: (_ port: Int, _ store: any Store) async throws -> Void) async throws {
        try await withTemporaryDirectory { directory in
            let store = try directory.makeSQLiteStore(service: "notes")
            let host = try ServiceHost(definition, settings: HostSettings(system: "test", port: 0, dataDirectory: directory.path, environment: [:]),
                                       store: store, bus: directory.makeSQLiteLog(), logger: quietLogger)
            try await withLiveServer(host.router()) { port in try await body(port, store) }
            try await store.close()
        }
    }
}
