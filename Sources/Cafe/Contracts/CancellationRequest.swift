import Chassis

/// The body order sends to `POST /cancellations` before it deletes an order (the seed's
/// Feign `Cancellation`): the delivery cancellation comes first. `cancellationId` names the
/// attempt, so an attempt order undid can be followed by another (``CallTarget``).
public struct CancellationRequest: Codable, Sendable, Equatable {
    public var orderId: Int64
    public var status: String
    public var cancellationId: String

    public init(orderId: Int64, status: String = "Delivery Cancelled", cancellationId: String) {
        self.orderId = orderId; self.status = status; self.cancellationId = cancellationId
    }
}
