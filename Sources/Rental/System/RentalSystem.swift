import Chassis
import RentalLend
import RentalMyPage
import RentalNotification
import RentalPayment
import RentalPromotion
import RentalReserve

/// Rental ("rent anything"): the seed's ports, and the gateway's routes by path prefix.
public let rentalSystem = SystemDefinition(name: "rental", services: [
    .init(reserveService, port: 8081, routes: ["/reserves"]),
    .init(lendService, port: 8082, routes: ["/lends", "/requestLists"]),
    .init(paymentService, port: 8083, routes: ["/payments"]),
    .init(promotionService, port: 8084, routes: ["/promotions"]),
    .init(myPageService, port: 8085, routes: ["/mypages"]),
    .init(notificationService, port: 8086, routes: ["/notifications"]),
])
