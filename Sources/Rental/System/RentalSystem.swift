import Chassis
import RentalLend
import RentalMyPage
import RentalNotification
import RentalPayment
import RentalPromotion
import RentalReserve
import SystemDriver

/// Rental ("rent anything"): the seed's ports, and the gateway's routes by path prefix.
///
/// Polyglot persistence: mypage keeps its SQLite file when the system runs on PostgreSQL.
/// The seed gave reserve the odd database out; here reserve, which takes the requests and
/// payments, gets PostgreSQL (replicas on several machines), and the store that differs is
/// mypage's: a view built only from events, which a volume holds well and a replay rebuilds.
public let rentalSystem = SystemDefinition(name: "rental", services: [
    .init(reserveService, port: 8081, pathPrefixes: ["/reserves"]),
    .init(lendService, port: 8082, pathPrefixes: ["/lends", "/requestLists"]),
    .init(paymentService, port: 8083, pathPrefixes: ["/payments"]),
    .init(promotionService, port: 8084, pathPrefixes: ["/promotions"]),
    .init(myPageService, port: 8085, pathPrefixes: ["/mypages"], storePreference: .embedded),
    .init(notificationService, port: 8086, pathPrefixes: ["/notifications"]),
])

/// Rental as `msa` drives it: the definition, the seed's scenario, the benchmark.
public let rental = DrivenSystem(rentalSystem,
                                 scenario: { api, control in await RentalScenario(api: api, control: control).perform() },
                                 workload: { api, clients in RentalBench(api: api, clients: clients) },
                                 fuzzSamples: [
                                     .init("POST", "/reserves", RentalSeed.request(customer: "fuzz")),
                                     .init("POST", "/promotions", ["name": "Fuzz", "discountRate": 10, "startDay": "20210601", "endDay": "20210630"]),
                                     .init("PATCH", "/reserves/{id}", ["status": "Cancel"]),
                                 ])
