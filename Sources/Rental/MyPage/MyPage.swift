import Chassis
import RentalContracts

/// One rental as its customer sees it, built only from events. Events about one match
/// arrive in publish order, but reserve's and payment's are published by different
/// services, so the row merges fields from whichever comes first and its status only
/// moves forward: a late `ReserveRequested` never turns `Matched` back into `Requested`.
struct MyPage: Entity, Equatable {
    static let collection = "mypages"
    var id: Int64?
    var matchId: Int64
    var name: String?
    var price: Int?
    var startDay: String?
    var endDay: String?
    var customer: String?
    var status: String
    var lender: String?
    var promotional: Bool
    /// Every status change, oldest first (the seed: "mypage shows every status change").
    var history: [String]

    init(matchId: Int64) {
        id = matchId
        self.matchId = matchId
        status = ""
        promotional = false
        history = []
    }

    /// Statuses in the order a request moves through them. A refund and a cancelled
    /// match follow a cancellation: they enter the history, and the status still says
    /// `Cancelled`, as the seed's mypage showed.
    static let order = ["Requested", "Paid", "Matched", "Cancelled"]

    mutating func advance(to next: String) {
        if !history.contains(next) { history.append(next) }
        let rank = { (s: String) in Self.order.firstIndex(of: s) ?? -1 }
        if rank(next) > rank(status) { status = next }
    }
}

/// A match whose payment was voided: its request never existed, so it gets no row, even
/// from events about it still on their way (a lender's confirmation in the moment it was
/// listed).
struct VoidedMatch: Entity {
    static let collection = "voidedMatches"
    var id: Int64?
}

/// mypage (8085): the customer's view of every request, queryable while every other
/// service is down. `GET /mypages/search/findByCustomer?customer=andy`.
public let myPageService = ServiceDefinition(name: "mypage", policies: myPagePolicies) { router, runtime in
    Resource<MyPage>(store: runtime.store).searchable(by: "customer", "status").register(on: router)
}

let myPagePolicies = Policies()
    .on(ReserveRequested.self) { e, tx in
        try await upsert(e.matchId, tx) {
            $0.name = e.name; $0.price = e.price; $0.startDay = e.startDay; $0.endDay = e.endDay
            $0.customer = e.customer; $0.promotional = e.promotional
            $0.advance(to: "Requested")
        }
    }
    .on(PaymentApproved.self) { e, tx in
        try await upsert(e.matchId, tx) {
            $0.customer = $0.customer ?? e.customer; $0.price = $0.price ?? e.price; $0.name = $0.name ?? e.name
            $0.startDay = $0.startDay ?? e.startDay; $0.endDay = $0.endDay ?? e.endDay
            $0.advance(to: "Paid")
        }
    }
    .on(LendConfirmed.self) { e, tx in try await upsert(e.matchId, tx) { $0.lender = e.lender; $0.advance(to: "Matched") } }
    .on(ReserveCancelled.self) { e, tx in try await upsert(e.matchId, tx) { $0.advance(to: "Cancelled") } }
    .on(PaymentCancelled.self) { e, tx in try await upsert(e.matchId, tx) { $0.advance(to: "Refunded") } }
    .on(LendCancelled.self) { e, tx in try await upsert(e.matchId, tx) { $0.advance(to: "MatchCancelled") } }
    .on(PaymentVoided.self) { e, tx in
        try await tx.remove(MyPage.self, id: e.matchId)
        try await tx.save(VoidedMatch(id: e.matchId))
    }

private func upsert(_ matchId: Int64, _ tx: any StoreTransaction, _ change: (inout MyPage) -> Void) async throws {
    var row: MyPage
    if let existing = try await tx.get(MyPage.self, id: matchId) {
        row = existing
    } else {
        guard try await tx.get(VoidedMatch.self, id: matchId) == nil else { return }
        row = MyPage(matchId: matchId)
    }
    change(&row)
    try await tx.save(row)
}
