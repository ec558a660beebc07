import Cafe
import Chassis
import ChassisTesting

/// A Cafe service on the chassis's router-harness rig (see `ServiceRig`).
func withService(_ definition: ServiceDefinition, environment: [String: String] = [:],
                 _ body: @Sendable (ServiceRig) async throws -> Void) async throws {
    try await ChassisTesting.withService(definition, system: cafeSystem.name, environment: environment, body)
}
