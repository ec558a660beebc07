import Cafe
import CafeContracts
import CafeDelivery
import CafeDeliveryCenter
import Chassis
import ChassisTesting
import Testing

/// delivery and deliverycenter: one delivery per made drink, the cancellation ledger, and
/// the delivery center's page built from events in any order.
@Suite struct DeliveryTests {
    static let made = DrinkMade(id: 8, orderId: 8, phoneNumber: "01082947794", productName: "coffee", qty: 3)
    static let cancelled = OrderCancelled(id: 8, amt: 6000)
    static let placed = OrderPlaced(id: 8, phoneNumber: "01082947794", productName: "coffee", qty: 3, amt: 6000, createTime: "2021-02-24T10:27:20.732+0000")

    @Test func aMadeDrinkSetsOffOnceAndACancelledOrderStopsItsDelivery() async throws {
        try await withService(deliveryService) { delivery in
            try await delivery.deliver(Self.made, from: "drink")
            try await delivery.deliver(Self.made, from: "drink")
            #expect(try await delivery.published(DeliveryStarted.self) == [DeliveryStarted(id: 8, orderId: 8)])
            let list = try await delivery.get("/deliveries")
            #expect(list.embedded("deliveries").map { $0["status"] } == ["Delivery Started"])
            #expect(list.json["_links"]?["profile"]?["href"] == "http://localhost/profile/deliveries")

            try await delivery.deliver(Self.cancelled, from: "order")
            try await delivery.deliver(Self.cancelled, from: "order")
            #expect(try await delivery.published(DeliveryCancelled.self) == [DeliveryCancelled(orderId: 8, deliveryId: 8)])
            #expect(try await delivery.get("/deliveries/8").json["status"] == "Delivery Cancelled")
        }
    }

    @Test func aDrinkMadeAfterItsOrderWasCancelledNeverSetsOff() async throws {
        try await withService(deliveryService) { delivery in
            try await delivery.deliver(Self.cancelled, from: "order")
            try await delivery.deliver(Self.made, from: "drink")
            #expect(try await delivery.published(DeliveryStarted.self).isEmpty)
            #expect(try await delivery.published(DeliveryCancelled.self) == [DeliveryCancelled(orderId: 8, deliveryId: nil)])
            #expect(try await delivery.get("/deliveries/8").status == .notFound)
        }
    }

    @Test func theLedgerRecordsOneCancellationPerOrderAndOrdersUndoWins() async throws {
        try await withService(deliveryService) { delivery in
            let first = CancellationRequest(orderId: 8, cancellationId: "a")
            let recorded = try await delivery.post("/cancellations", try JSON.value(first))
            #expect(recorded.status == .created)
            #expect(recorded.json["status"] == "Delivery Cancelled" && recorded.json["orderId"] == 8)
            #expect(try await delivery.post("/cancellations", try JSON.value(first)).json["id"] == 8, "a retry gets the same record")
            try await delivery.expectRefusal(.post, "/cancellations", try JSON.encodeString(CancellationRequest(orderId: 8, cancellationId: "b")),
                                             status: 409, saying: "already being cancelled")
            try await delivery.expectRefusal(.post, "/cancellations/8/void", "{}", status: 400, field: "cancellationId")
            let voided = try await delivery.post("/cancellations/8/void", ["cancellationId": "a"])
            #expect(voided.status == .ok && voided.json == ["orderId": 8, "cancellationId": "a", "voided": true])
            #expect(try await delivery.get("/cancellations/8").status == .notFound)
            try await delivery.expectRefusal(.post, "/cancellations", try JSON.encodeString(first), status: 409, saying: "was voided")
            #expect(try await delivery.post("/cancellations", try JSON.value(CancellationRequest(orderId: 8, cancellationId: "c"))).status == .created)
            try await delivery.expectRefusal(.post, "/cancellations", #"{"orderId":9,"status":"Cancelled","cancellationId":"d"}"#, status: 422, field: "status")
            try await delivery.expectRefusal(.post, "/cancellations", #"{"orderId":"nine","cancellationId":"d"}"#, status: 400, field: "orderId")
        }
    }

    @Test func thePageFollowsTheOrderWhateverTheEventOrder() async throws {
        try await withService(deliveryCenterService) { center in
            // The cancellation overtakes the start; each comes twice.
            for event in [DeliveryCancelled(orderId: 8, deliveryId: 8), DeliveryCancelled(orderId: 8, deliveryId: 8)] as [any DomainEvent] {
                try await center.deliver(event, from: "delivery")
            }
            for event in [DeliveryStarted(id: 8, orderId: 8), Self.placed, Self.placed] as [any DomainEvent] { try await center.deliver(event, from: "test") }
            let page = try await center.get("/deliverypages/8")
            #expect(page.json["status"] == "Delivery Cancelled" && page.json["amt"] == 6000 && page.json["deliveryId"] == 8)

            try await center.deliver(OrderPlaced(id: 9, phoneNumber: "01000000000", productName: "tea", qty: 1, amt: 3000, createTime: "x"), from: "order")
            let ordered = try await center.get("/deliverypages/9")
            #expect(ordered.json["status"] == "Ordered" && ordered.json["deliveryId"] == .null, "the seed's page shows deliveryId null")
            let list = try await center.get("/deliverypages")
            #expect(list.json["_links"]?["search"]?["href"] == "http://localhost/deliverypages/search")
            #expect(try await center.get("/deliverypages/search/findByOrderId?orderId=9").embedded("deliverypages").count == 1)
        }
    }
}
