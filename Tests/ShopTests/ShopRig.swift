import Chassis
import ChassisTesting
import Shop

/// A Shop service on the chassis's router-harness rig (see `ServiceRig`).
func withService(_ definition: ServiceDefinition, environment: [String: String] = [:],
                 _ body: @Sendable (ServiceRig) async throws -> Void) async throws {
    try await ChassisTesting.withService(definition, system: shopSystem.name, environment: environment, body)
}
