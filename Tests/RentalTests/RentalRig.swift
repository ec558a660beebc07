import Chassis
import ChassisTesting
import Rental

/// A Rental service on the chassis's router-harness rig (see `ServiceRig`).
func withService(_ definition: ServiceDefinition, environment: [String: String] = [:],
                 _ body: @Sendable (ServiceRig) async throws -> Void) async throws {
    try await ChassisTesting.withService(definition, system: rentalSystem.name, environment: environment, body)
}
