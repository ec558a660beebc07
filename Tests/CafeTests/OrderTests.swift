import Cafe
import CafeContracts
import CafeOrder
import Chassis
import ChassisTesting
import Testing

/// order: takes orders, and cancels one only once delivery recorded the cancellation.
@Suite struct OrderTests {
    static func deliveryStub(_ behaviour: TargetStub.Behaviour) -> TargetStub {
        TargetStub(behaviour, call: "cancellations", undo: "cancellations/:id/void")
    }

    /// order with delivery played by `delivery` on a live port, and one order placed.
    func withOrder(delivery: TargetStub = deliveryStub(.approving), environment: [String: String] = [:],
                   _ body: @Sendable (ServiceRig) async throws -> Void) async throws {
        try await withLiveServer(delivery.router) { port in
            let settings = ["DELIVERY_URL": "http://127.0.0.1:\(port)", "DELIVERY_TIMEOUT_MS": "5000"].merging(environment) { _, given in given }
            try await withService(orderService, environment: settings) { order in
                _ = try await order.post("/orders", CafeSeed.order())
                try await body(order)
            }
        }
    }

    @Test func theSeedsOrderAnswersTheSeedsBodyAndIsPublished() async throws {
        try await withService(orderService) { order in
            let reply = try await order.post("/orders", CafeSeed.order())
            #expect(reply.status == .created)
            #expect(reply.headers[.location] == "http://localhost/orders/1")
            #expect(reply.json["_links"]?["order"]?["href"] == "http://localhost/orders/1")
            #expect(reply.json["phoneNumber"] == "01082947794" && reply.json["productName"] == "coffee")
            #expect(reply.json["qty"] == 3 && reply.json["amt"] == 6000, "httpie's strings are numbers")
            #expect(reply.json["status"] == "Ordered")
            let createTime = try #require(reply.json["createTime"]?.stringValue)
            #expect(createTime.count == 28 && createTime.hasSuffix("+0000") && createTime.contains("."), "Jackson's form: \(createTime)")
            #expect(try await order.published(OrderPlaced.self)
                == [OrderPlaced(id: 1, phoneNumber: "01082947794", productName: "coffee", qty: 3, amt: 6000, createTime: createTime)])
        }
    }

    @Test func aCancellationIsRecordedByDeliveryFirstThenTheOrderGoes() async throws {
        let delivery = Self.deliveryStub(.approving)
        try await withOrder(delivery: delivery) { order in
            let reply = try await order.delete("/orders/1")
            #expect(reply.status == .noContent)
            let sent = try #require(delivery.calls.first)
            #expect(sent["orderId"] == 1 && sent["status"] == "Delivery Cancelled" && sent["cancellationId"]?.stringValue?.isEmpty == false)
            #expect(try await order.get("/orders/1").status == .notFound)
            #expect(try await order.published(OrderCancelled.self) == [OrderCancelled(id: 1, amt: 6000)])
            try await order.host.undoPendingCalls()
            #expect(delivery.undos.isEmpty)
        }
    }

    @Test(arguments: [TargetStub.Behaviour.failing, .hanging, .refusing("order 1 is already being cancelled")])
    func aCancellationDeliveryDidNotRecordKeepsTheOrder(_ behaviour: TargetStub.Behaviour) async throws {
        let delivery = Self.deliveryStub(behaviour)
        try await withOrder(delivery: delivery, environment: ["DELIVERY_TIMEOUT_MS": "150", "DELIVERY_RETRIES": "0"]) { order in
            let reply = try await order.delete("/orders/1")
            if case .refusing = behaviour {
                #expect(reply.status == .conflict && reply.error == "delivery refused: order 1 is already being cancelled", "\(reply.json)")
            } else {
                #expect(reply.status == .serviceUnavailable && reply.headers[.retryAfter] != nil, "\(reply.json)")
            }
            #expect(try await order.get("/orders/1").status == .ok)
            #expect(try await order.published(OrderCancelled.self).isEmpty)
        }
    }

    @Test func deliveryDownRefusesTheCancellationWithA503AndWritesNothing() async throws {
        let port = try await closedPort()
        try await withService(orderService, environment: ["DELIVERY_URL": "http://127.0.0.1:\(port)"]) { order in
            _ = try await order.post("/orders", CafeSeed.order())
            let reply = try await order.expectRefusal(.delete, "/orders/1", status: 503, saying: "delivery is unavailable")
            #expect(reply.headers[.retryAfter] != nil)
        }
    }

    static let seed = CafeSeed.order()
    static let badOrders = [
        BadInput("malformed JSON", raw: #"{"qty":"#),
        BadInput("an array", raw: "[]"),
        BadInput("no phoneNumber", seed.without("phoneNumber"), field: "phoneNumber"),
        BadInput("a phoneNumber with letters", seed.with(["phoneNumber": "010-CALL-ME"]), field: "phoneNumber"),
        BadInput("no productName", seed.without("productName"), field: "productName"),
        BadInput("an empty productName", seed.with(["productName": " "]), field: "productName"),
        BadInput("no qty", seed.without("qty"), field: "qty"),
        BadInput("a qty that is not a number", seed.with(["qty": "three"]), field: "qty"),
        BadInput("a qty of 0", seed.with(["qty": "0"]), field: "qty"),
        BadInput("a negative qty", seed.with(["qty": -2]), field: "qty"),
        BadInput("a qty with a fraction", seed.with(["qty": 1.5]), field: "qty"),
        BadInput("an amt that is not a number", seed.with(["amt": "6,000"]), field: "amt"),
        BadInput("a negative amt", seed.with(["amt": "-1"]), field: "amt"),
        BadInput("a status other than Ordered", seed.with(["status": "Made"]), field: "status"),
    ]

    @Test(arguments: badOrders) func aBadOrderIsRefused(_ bad: BadInput) async throws {
        try await withService(orderService) { order in
            try await order.expectRefusal(.post, "/orders", bad.body, status: bad.status, field: bad.field)
        }
    }

    @Test func ordersCannotBeChangedAndUnknownOnesAre404() async throws {
        try await withService(orderService) { order in
            _ = try await order.post("/orders", Self.seed)
            try await order.expectRefusal(.patch, "/orders/1", #"{"qty":5}"#, status: 405)
            try await order.expectRefusal(.get, "/orders/9", status: 404, saying: "order 9 does not exist")
            try await order.expectRefusal(.delete, "/orders/9", status: 404)
        }
    }
}
