import Foundation

/// Which store a service opens, chosen by configuration: the embedded SQLite file by
/// default, PostgreSQL when the system (`MSA_STORE`) or the service (`<SERVICE>_STORE`)
/// names a server.
///
/// Polyglot persistence: a service whose ``SystemDefinition/Member/storePreference`` is
/// ``StorePreference/embedded`` keeps SQLite when only the system-wide `MSA_STORE` points
/// at PostgreSQL, so a production system runs on more than one kind of store; its own
/// `<SERVICE>_STORE` still decides if set. On PostgreSQL every service has its own
/// schema, `<system>_<service>` (e.g. `rental_reserve`); give a service a URL of its
/// own to put it in a database of its own.
public enum StoreSelection: Sendable, Equatable {
    case sqlite(path: String)
    case postgres(url: String, schema: String)

    /// The store of `service` in `system`, from `environment`:
    /// - `<SERVICE>_STORE` (e.g. `MYPAGE_STORE`): `sqlite` or a `postgres://` URL, for this service;
    /// - `MSA_STORE`: the same, for every service that prefers the system's store;
    /// - otherwise `<dataDirectory>/<service>.sqlite`.
    public static func resolve(system: String, service: String, preference: StorePreference,
                               dataDirectory: String, environment: [String: String]) throws -> StoreSelection {
        let own = environment["\(service.uppercased())_STORE"]
        let systemWide = preference == .systemDefault ? environment["MSA_STORE"] : nil
        guard let choice = (own ?? systemWide).map({ $0.trimmingCharacters(in: .whitespaces) }), !choice.isEmpty,
              choice != "sqlite" else {
            return .sqlite(path: "\(dataDirectory)/\(service).sqlite")
        }
        let setting = own != nil ? "\(service.uppercased())_STORE" : "MSA_STORE"
        do { _ = try PostgresURL(choice) } catch {
            throw PostgresURL.Invalid(reason: "\(setting) must be sqlite or a postgres:// URL, got \(choice)")
        }
        return .postgres(url: choice, schema: "\(system)_\(service)".lowercased())
    }

    /// Opens (and migrates) the selected store.
    public func open(service: String) async throws -> any Store {
        switch self {
        case .sqlite(let path): try SQLiteStore(path: path, service: service)
        case .postgres(let url, let schema): try await PostgresStore(url: url, schema: schema, service: service)
        }
    }

    /// For logs: the kind and where, without a password.
    public var summary: String {
        switch self {
        case .sqlite(let path): "sqlite \(path)"
        case .postgres(let url, let schema):
            ((try? PostgresURL(url)).map { "postgres \($0.user)@\($0.endpoint)/\($0.database)" } ?? "postgres") + " schema \(schema)"
        }
    }
}

/// Whether a service follows the system's choice of store in production.
public enum StorePreference: Sendable, Equatable {
    /// The store `MSA_STORE` names (PostgreSQL in production).
    case systemDefault
    /// The embedded SQLite file even when `MSA_STORE` names a server: the service's data
    /// lives on its own volume (polyglot persistence).
    case embedded
}
