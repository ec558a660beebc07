/// A whole system: its services, where each listens by default, and which path prefixes
/// the gateway sends to each. The CLI, the gateway and the system tests read it.
public struct SystemDefinition: Sendable {
    public struct Member: Sendable {
        public var definition: ServiceDefinition
        public var port: Int
        /// Path prefixes the gateway routes to this service, e.g. `/reserves`.
        public var pathPrefixes: [String]
        /// Whether the service follows the system's store in production (see ``StoreSelection``).
        public var storePreference: StorePreference
        /// Settings `msa up` gives the service unless the environment sets them: what the
        /// seed's demonstration needs on a laptop (vaccine's calendar opening in the seed's
        /// week). A deployment that does not set them gets the service's own defaults.
        public var localSettings: [String: String]
        public var name: String { definition.name }

        public init(_ definition: ServiceDefinition, port: Int, pathPrefixes: [String], storePreference: StorePreference = .systemDefault,
                    localSettings: [String: String] = [:]) {
            self.definition = definition
            self.port = port
            self.pathPrefixes = pathPrefixes
            self.storePreference = storePreference
            self.localSettings = localSettings
        }
    }

    public var name: String
    public var gatewayPort: Int
    public var services: [Member]
    /// Personal data no log line of the system may hold whole (``Redaction``): masked in
    /// every line of every service and the gateway.
    public var redactions: [Redaction]

    public init(name: String, gatewayPort: Int = 8080, services: [Member], redactions: [Redaction] = []) {
        self.name = name
        self.gatewayPort = gatewayPort
        self.services = services
        self.redactions = redactions
    }

    public func service(_ name: String) -> Member? { services.first { $0.name == name } }
}
