import Chassis
import ChassisTesting
import Testing

/// What a service's policy tables do with an event, and where their configuration comes from.
@Suite struct PoliciesTests {
    struct Mark: Entity { static let collection = "marks"; var id: Int64?; var by: String }

    @Test func mergedTablesBothHandleAnEventTheyShareInOneTransaction() async throws {
        let view = Policies().on(SampleEvent.self) { e, tx in try await tx.save(Mark(id: Int64(e.seq), by: "view")) }
        let notices = Policies().on(SampleEvent.self) { e, tx in try await tx.save(Mark(id: Int64(100 + e.seq), by: "notices")) }
        let service = ServiceDefinition(name: "merged", policies: view.merging(notices)) { _, _ in }
        try await withService(service, system: "test") { rig in
            try await rig.deliver(SampleEvent(key: "a", seq: 1), from: "test")
            #expect(try await rig.store.get(Mark.self, id: 1)?.by == "view")
            #expect(try await rig.store.get(Mark.self, id: 101)?.by == "notices")
        }
    }

    @Test func configuredPoliciesReadTheRunningServicesSettings() async throws {
        let service = ServiceDefinition(name: "configured", configuredPolicies: { runtime in
            let label = runtime.setting("LABEL", default: "unset")
            return Policies().on(SampleEvent.self) { e, tx in try await tx.save(Mark(id: Int64(e.seq), by: label)) }
        }) { _, _ in }
        #expect(service.policies.isEmpty, "nothing before a host made them")
        try await withService(service, system: "test", environment: ["LABEL": "from the environment"]) { rig in
            try await rig.deliver(SampleEvent(key: "a", seq: 1), from: "test")
            #expect(try await rig.store.get(Mark.self, id: 1)?.by == "from the environment")
        }
    }

    @Test func aViewsStatusOnlyMovesForwardAndTiesKeepTheFirst() {
        let progress = Precedence(levels: [["RESERVE"], ["CANCEL", "REJECTED"], ["INJECT"]])
        var status: String?
        for next in ["INJECT", "RESERVE", "CANCEL"] { progress.advance(&status, to: next) }
        #expect(status == "INJECT", "an overtaken event moves nothing back")
        status = nil
        for next in ["RESERVE", "CANCEL", "REJECTED", "RESERVE", "Lost"] { progress.advance(&status, to: next) }
        #expect(status == "CANCEL", "a tie keeps the first; an unknown status ranks below all")
    }
}
