import Chassis
import Foundation
import ChassisTesting
import Rental
import RentalContracts
import RentalPayment
import RentalReserve
import Testing

/// reserve: request + pay synchronously, promotions from events, cancel.
@Suite struct ReserveTests {
    /// The seed's own request: price as httpie's string, and a `status` that is the server's to set.
    static let seed = RentalSeed.request()

    /// Reserve with payment played by `stub` on a live port.
    func withReserve(paying stub: PaymentStub = PaymentStub(paying: .approving), environment: [String: String] = [:],
                     _ body: @Sendable (ServiceRig) async throws -> Void) async throws {
        try await withLiveServer(stub.router) { port in
            // A timeout no busy machine reaches (a retry would show as a second approval),
            // unless a test sets its own.
            let settings = ["PAYMENT_URL": "http://127.0.0.1:\(port)", "PAYMENT_TIMEOUT_MS": "5000"].merging(environment) { _, given in given }
            try await withService(reserveService, environment: settings, body)
        }
    }

    /// The seed's request with `changes`, paid and created through the API.
    @discardableResult
    func request(_ reserve: ServiceRig, _ changes: JSONValue = [:]) async throws -> Reply {
        let reply = try await reserve.post("/reserves", Self.seed.with(changes))
        try #require(reply.status == .created, "\(reply.json)")
        return reply
    }

    /// Days relative to today, as `yyyyMMdd`: promotions run on the days a request is made.
    static func day(_ offset: Int) -> String { RentalDay.today(Date().addingTimeInterval(Double(offset) * 86_400)) }

    /// Tells reserve of promotion `id`, as promotion's event would (running from yesterday
    /// to tomorrow by default).
    func promote(_ reserve: ServiceRig, _ id: Int64, rate: Int, from start: String = day(-1), to end: String = day(1)) async throws {
        let event = PromotionRegistered(promotionId: id, name: "promotion \(id)", discountRate: rate, startDay: start, endDay: end)
        try await reserve.deliver(event, from: "promotion")
    }

    func reserves(_ reserve: ServiceRig) async throws -> Int { try await reserve.store.count("reserves", matching: []) }

    // MARK: - Request and pay

    @Test func theSeedsRequestIsPaidAndPublished() async throws {
        let stub = PaymentStub(paying: .approving)
        try await withReserve(paying: stub) { reserve in
            let reply = try await reserve.post("/reserves", Self.seed)

            #expect(reply.status == .created)
            #expect(reply.headers[.contentType] == HAL.contentType)
            #expect(reply.headers[.location] == "http://localhost/reserves/1")
            #expect(reply.json["_links"]?["self"]?["href"] == "http://localhost/reserves/1")
            #expect(reply.json["_links"]?["reserve"]?["href"] == "http://localhost/reserves/1")
            #expect(reply.json["price"] == 20000)
            #expect(reply.json["status"] == "Paid")
            #expect(reply.json["promotional"] == false)
            #expect(stub.approvals.map { $0["price"] } == [20000])
            #expect(stub.approvals.first?["matchId"] == 1)
            #expect(stub.approvals.first?["paymentAction"] == "Approved")
            #expect(try await reserve.published(ReserveRequested.self) == [
                ReserveRequested(matchId: 1, name: nil, price: 20000, listPrice: 20000, startDay: "20210624", endDay: "20210624",
                                 customer: "andy", promotional: false),
            ])
            #expect(try await reserve.store.count("pendingCalls", matching: []) == 0, "the settled call is gone")
            #expect(try await reserve.get("/reserves/1").json["status"] == "Paid")
        }
    }

    @Test func theRealPaymentServiceRecordsThePayment() async throws {
        try await withService(paymentService) { payment in
            try await withLiveServer(payment.host.router()) { port in
                try await withService(reserveService, environment: ["PAYMENT_URL": "http://127.0.0.1:\(port)"]) { reserve in
                    try await request(reserve, ["name": "tent"])
                }
            }
            let approved = try await payment.get("/payments/1")
            #expect(approved.json["paymentAction"] == "Approved")
            #expect(approved.json["price"] == 20000)
            #expect(approved.json["name"] == "tent")
            #expect(try await payment.published(PaymentApproved.self).map(\.matchId) == [1])
        }
    }

    @Test func requestsArePagedAndSearchableByCustomer() async throws {
        try await withReserve { reserve in
            for customer in ["andy", "bob", "andy"] { try await request(reserve, ["customer": .string(customer)]) }

            let first = try await reserve.get("/reserves?size=2&sort=id,desc")
            #expect(first.embedded("reserves").map { $0["id"] } == [3, 2])
            #expect(first.totalElements == 3)
            #expect(first.json["page"]?["totalPages"] == 2)
            #expect(try await reserve.get("/reserves?size=2&page=1").embedded("reserves").map { $0["id"] } == [3])

            let andys = try await reserve.get("/reserves/search/findByCustomer?customer=andy")
            #expect(andys.embedded("reserves").map { $0["id"] } == [1, 3])
            #expect(andys.totalElements == 2)
        }
    }

    // MARK: - Promotions

    /// A campaign is what runs while it is active: the seed's request for June 2021, made
    /// today, gets today's best discount; one that ended yesterday or starts tomorrow gives none.
    @Test func theBestPromotionActiveTodayPricesTheRequest() async throws {
        let stub = PaymentStub(paying: .approving)
        try await withReserve(paying: stub) { reserve in
            try await promote(reserve, 1, rate: 10, from: Self.day(-30), to: Self.day(30))
            try await promote(reserve, 2, rate: 30, from: Self.day(0), to: Self.day(0))
            try await promote(reserve, 3, rate: 50, from: Self.day(1), to: Self.day(5))
            try await promote(reserve, 4, rate: 60, from: Self.day(-5), to: Self.day(-1))
            try await promote(reserve, 5, rate: 70, from: "20210601", to: "20210630")

            let reply = try await request(reserve)

            #expect(reply.json["price"] == 14000)
            #expect(reply.json["listPrice"] == 20000)
            #expect(reply.json["promotionId"] == 2)
            #expect(reply.json["promotional"] == true)
            #expect(stub.approvals.map { $0["price"] } == [14000], "payment charged the discounted price")
        }
    }

    @Test func anEndedPromotionNoLongerApplies() async throws {
        try await withReserve { reserve in
            try await promote(reserve, 1, rate: 10)
            try await reserve.deliver(PromotionEnded(promotionId: 1), from: "promotion")

            let reply = try await request(reserve)

            #expect(reply.json["price"] == 20000)
            #expect(reply.json["promotional"] == false)
        }
    }

    @Test func aPriceNearTheIntegerLimitIsDiscountedWithoutOverflow() async throws {
        try await withReserve { reserve in
            try await promote(reserve, 1, rate: 10)

            let reply = try await request(reserve, ["price": "9000000000000000000"])

            #expect(reply.json["price"] == .number(8_100_000_000_000_000_000))
            #expect(try await reserve.published(ReserveRequested.self).map(\.price) == [8_100_000_000_000_000_000])
        }
    }

    // MARK: - Match and cancel

    @Test func aLendersConfirmationMatchesTheRequest() async throws {
        try await withReserve { reserve in
            try await request(reserve)
            try await reserve.deliver(LendConfirmed(matchId: 1, lender: "Safemate", customer: "andy", name: nil), from: "lend")
            #expect(try await reserve.get("/reserves/1").json["status"] == "Matched")
        }
    }

    @Test func aConfirmationOfARequestThatNeverCommittedIsIgnored() async throws {
        try await withReserve { reserve in
            try await request(reserve)
            let before = try await reserve.snapshot()
            try await reserve.deliver(LendConfirmed(matchId: 9, lender: "Safemate", customer: "andy", name: nil), from: "lend")
            #expect(try await reserve.snapshot() == before)
        }
    }

    @Test func cancellingPublishesReserveCancelled() async throws {
        try await withReserve { reserve in
            try await request(reserve)

            let reply = try await reserve.patch("/reserves/1", ["status": "Cancel"])

            #expect(reply.status == .ok)
            #expect(reply.json["status"] == "Cancelled")
            #expect(try await reserve.published(ReserveCancelled.self) == [ReserveCancelled(matchId: 1, customer: "andy")])
        }
    }

    @Test func aConfirmationAfterCancellationLeavesTheRequestCancelled() async throws {
        try await withReserve { reserve in
            try await request(reserve)
            _ = try await reserve.patch("/reserves/1", ["status": "Cancel"])
            try await reserve.deliver(LendConfirmed(matchId: 1, lender: "Safemate", customer: "andy", name: nil), from: "lend")
            #expect(try await reserve.get("/reserves/1").json["status"] == "Cancelled")
        }
    }

    @Test func cancellingTwiceIsRefused() async throws {
        try await withReserve { reserve in
            try await request(reserve)
            _ = try await reserve.patch("/reserves/1", ["status": "Cancel"])
            try await reserve.expectRefusal(.patch, "/reserves/1", #"{"status":"Cancel"}"#, status: 409, saying: "already cancelled")
        }
    }

    @Test func cancellingAPromotionalRentalIsRefused() async throws {
        try await withReserve { reserve in
            try await promote(reserve, 1, rate: 10)
            try await request(reserve)
            try await reserve.expectRefusal(.patch, "/reserves/1", #"{"status":"Cancel"}"#, status: 409, saying: "promotional price")
        }
    }

    static let illegalChanges = [
        BadInput("a status other than Cancel", ["status": "Matched"], status: 422, field: "status"),
        BadInput("a status that does not exist", ["status": "Lost"], status: 400, field: "status"),
        BadInput("a new price", ["price": 100], status: 409),
        BadInput("another customer", ["customer": "bob"], status: 409),
        BadInput("a price that is not a number", ["price": "abc"], field: "price"),
        BadInput("malformed JSON", raw: #"{"status":"#),
        BadInput("a body that is not an object", raw: #"["Cancel"]"#),
    ]

    @Test(arguments: illegalChanges) func anIllegalChangeIsRefused(_ bad: BadInput) async throws {
        try await withReserve { reserve in
            try await request(reserve)
            try await reserve.expectRefusal(.patch, "/reserves/1", bad.body, status: bad.status, field: bad.field)
        }
    }

    // MARK: - Bad requests

    static let badRequests = [
        BadInput("malformed JSON", raw: #"{"price":"20000","#),
        BadInput("an empty body", raw: ""),
        BadInput("a body that is not an object", raw: #"["andy"]"#),
        BadInput("a price that is not a number", seed.with(["price": "abc"]), field: "price"),
        BadInput("a price with a fraction", seed.with(["price": 1.5]), field: "price"),
        BadInput("a price beyond any integer", seed.with(["price": 1e30])),
        BadInput("a price of zero", seed.with(["price": 0]), status: 422, field: "price"),
        BadInput("a negative price", seed.with(["price": "-5"]), status: 422, field: "price"),
        BadInput("no price", seed.without("price"), field: "price"),
        BadInput("no customer", seed.without("customer"), field: "customer"),
        BadInput("a blank customer", seed.with(["customer": "  "]), status: 422, field: "customer"),
        BadInput("a startDay not in yyyyMMdd", seed.with(["startDay": "2021-06-24"]), field: "startDay"),
        BadInput("an endDay that is no calendar day", seed.with(["endDay": "20210231"]), field: "endDay"),
        BadInput("an endDay before the startDay", seed.with(["startDay": "20210625"]), status: 422, field: "endDay"),
    ]

    @Test(arguments: badRequests) func aBadRequestIsRefusedBeforePaymentIsCalled(_ bad: BadInput) async throws {
        let stub = PaymentStub(paying: .approving)
        try await withReserve(paying: stub) { reserve in
            try await reserve.expectRefusal(.post, "/reserves", bad.body, status: bad.status, field: bad.field)
            #expect(stub.approvals.isEmpty)
        }
    }

    @Test func bodyShapeErrorsSayWhatIsWrong() async throws {
        try await withReserve { reserve in
            let huge = try await reserve.send(.post, "/reserves", Self.seed.with(["price": 1e30]).text)
            #expect(huge.status == 400 && huge.json["field"] == "price" && huge.error == "price is too large for an integer")
            let notAnObject = try await reserve.send(.post, "/reserves", #"["andy"]"#)
            #expect(notAnObject.status == 400 && notAnObject.error == "the body must be a JSON object" && notAnObject.json["field"] == nil)
            try await reserve.expectRefusal(.get, "/reserves?page=999999999999999999", status: 400, field: "page")
        }
    }

    @Test func unknownRequestsAndRoutesAreRefused() async throws {
        try await withReserve { reserve in
            try await request(reserve)
            try await reserve.expectRefusal(.get, "/reserves/99", status: 404, saying: "reserve 99 does not exist")
            try await reserve.expectRefusal(.patch, "/reserves/99", #"{"status":"Cancel"}"#, status: 404, saying: "reserve 99")
            try await reserve.expectRefusal(.get, "/reserves/abc", status: 400)
            try await reserve.expectRefusal(.delete, "/reserves/1", status: 405)
            try await reserve.expectRefusal(.get, "/reserves/search/findByName?name=tent", status: 404)
            try await reserve.expectRefusal(.get, "/reserves/search/findByCustomer", status: 400, field: "customer")
            try await reserve.expectRefusal(.get, "/reserves?size=0", status: 400, field: "size")
        }
    }
}
