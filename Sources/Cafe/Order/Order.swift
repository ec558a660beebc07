import Chassis
import CafeContracts

/// A customer's order, as the seed's HAL body shows it.
struct Order: Entity, Equatable {
    static let collection = "orders"
    var id: Int64?
    var phoneNumber: String
    var productName: String
    var qty: Int
    var amt: Int
    var status: Status
    var createTime: String

    enum Status: String, EntityStatus {
        case ordered = "Ordered"
    }

    init(_ input: OrderInput) throws {
        let phone = input.phoneNumber.trimmingCharacters(in: .whitespaces)
        guard (8...20).contains(phone.count), phone.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-" || $0 == "+") }) else {
            throw Refusal.badRequest("phoneNumber must be 8 to 20 digits (hyphens and a leading + allowed)", field: "phoneNumber")
        }
        let product = input.productName.trimmingCharacters(in: .whitespaces)
        guard !product.isEmpty, product.count <= 100 else { throw Refusal.badRequest("productName must be 1 to 100 characters", field: "productName") }
        guard (1...100).contains(input.qty) else { throw Refusal.badRequest("qty must be 1 to 100", field: "qty") }
        guard (0...100_000_000).contains(input.amt) else { throw Refusal.badRequest("amt must be 0 to 100000000 won", field: "amt") }
        phoneNumber = phone
        productName = product
        qty = input.qty
        amt = input.amt
        status = input.status ?? .ordered
        createTime = Clock.jacksonTimestamp()
    }

    var placed: OrderPlaced {
        OrderPlaced(id: id!, phoneNumber: phoneNumber, productName: productName, qty: qty, amt: amt, status: status.rawValue, createTime: createTime)
    }
}

/// `POST /orders`'s body (httpie sends `qty=3 amt=6000` as strings; both are taken).
struct OrderInput: Decodable, Sendable {
    var phoneNumber: String
    var productName: String
    var qty: Int
    var amt: Int
    var status: Order.Status?
}

/// order (8081): takes orders (`OrderPlaced`) and cancels them. `DELETE /orders/{id}` first
/// has delivery record the cancellation, synchronously (`POST /cancellations`, the seed's
/// rule: no order cancellation without the delivery cancellation); delivery down, slow or
/// its breaker open is a 503 + `Retry-After` and the order stays. Only then is the order
/// deleted (204) and `OrderCancelled` published, which refunds, stops the drink and
/// cancels the delivery.
public let orderService = ServiceDefinition(name: "order") { router, runtime in
    let cancelDelivery = runtime.gatedCall("cancel", to: "delivery", defaultURL: "http://127.0.0.1:8084", CancellationRequest.self,
                                           call: { cancellation in try .post("/cancellations", cancellation) },
                                           undo: { cancellation in
                                               try .post("/cancellations/\(cancellation.orderId)/void", ["cancellationId": cancellation.cancellationId])
                                           })
    Resource<Order>(store: runtime.store)
        .creating(OrderInput.self, Order.init, raising: { order in [order.placed] })
        .deleting(gatedBy: cancelDelivery, request: { order in CancellationRequest(orderId: order.id!, cancellationId: RandomID.uuid()) }) { order, _ in
            [OrderCancelled(id: order.id!, amt: order.amt)]
        }
        .searchable(by: "phoneNumber")
        .register(on: router)
}
