import Chassis
import ChassisTesting
import Vaccine
import VaccineReservation
import VaccineUser

/// A Vaccine service on the chassis's router-harness rig (see `ServiceRig`).
func withService(_ definition: ServiceDefinition, environment: [String: String] = [:],
                 _ body: @Sendable (ServiceRig) async throws -> Void) async throws {
    try await ChassisTesting.withService(definition, system: vaccineSystem.name, environment: environment, body)
}

/// reservation on a live port (its calendar opening on the seed's 2021-10-01 unless
/// `environment` says otherwise), with user hosted on the rig calling it.
func withUserAndReservation(reservation environment: [String: String] = [:], user userEnvironment: [String: String] = [:],
                            _ body: @Sendable (_ user: ServiceRig, _ reservation: ServiceRig) async throws -> Void) async throws {
    let calendar = ["RESERVATION_FIRST_DAY": "2021-10-01", "RESERVATION_DAYS": "30"].merging(environment) { _, given in given }
    try await withService(reservationService, environment: calendar) { reservation in
        try await withLiveServer(reservation.host.router()) { port in
            let settings = ["RESERVATION_URL": "http://127.0.0.1:\(port)"].merging(userEnvironment) { _, given in given }
            try await withService(userService, environment: settings) { user in try await body(user, reservation) }
        }
    }
}

/// user with reservation down (nothing listens at its address).
func withUserAlone(_ environment: [String: String] = [:], _ body: @Sendable (_ user: ServiceRig) async throws -> Void) async throws {
    let settings = ["RESERVATION_URL": "http://127.0.0.1:\(try await closedPort())"].merging(environment) { _, given in given }
    try await withService(userService, environment: settings, body)
}
