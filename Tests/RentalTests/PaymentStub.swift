import Chassis
import ChassisTesting

/// Payment played by a ``TargetStub``: it records every approval reserve asked for and
/// every match it was asked to void.
typealias PaymentStub = TargetStub

extension TargetStub {
    convenience init(paying behaviour: Behaviour) {
        self.init(behaviour, call: "payments", undo: "payments/:id/void")
    }

    var approvals: [JSONValue] { calls }
    var voids: [Int64] { undos.compactMap { Int64($0.id) } }
}
