import Chassis
import RentalContracts

/// A discount campaign for rentals starting within its days. Several may exist and be
/// registered ahead of time; reserve applies the best one active on a rental's first day.
struct Promotion: Entity, Equatable {
    static let collection = "promotions"
    var id: Int64?
    var name: String
    var discountRate: Int
    var startDay: String
    var endDay: String

    func check() throws {
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw Refusal.invalid("name must not be empty", field: "name") }
        guard (1...90).contains(discountRate) else { throw Refusal.invalid("discountRate must be 1 to 90 (percent)", field: "discountRate") }
        try RentalDay.checkPeriod(start: startDay, end: endDay)
    }

    var registered: PromotionRegistered {
        PromotionRegistered(promotionId: id!, name: name, discountRate: discountRate, startDay: startDay, endDay: endDay)
    }
}

/// promotion (8084): registers campaigns (`PromotionRegistered`) and ends them with DELETE
/// (`PromotionEnded`).
public let promotionService = ServiceDefinition(name: "promotion") { router, runtime in
    Resource<Promotion>(store: runtime.store)
        .creating(raising: { promotion, _ in
            try promotion.check()
            return [promotion.registered]
        })
        .deleting { promotion, _ in [PromotionEnded(promotionId: promotion.id!)] }
        .register(on: router)
}
