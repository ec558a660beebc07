import CafeDelivery
import CafeDeliveryCenter
import CafeDrink
import CafeOrder
import CafePayment
import Chassis
import SystemDriver

/// Cafe delivery: the seed's services (each on 8080 in its cluster; here on ports of their
/// own) and its Spring Cloud Gateway routes by path prefix.
///
/// Polyglot persistence: deliverycenter keeps its SQLite file when the system runs on
/// PostgreSQL, as the seed's deliverycenter kept HSQLDB beside the others' H2: the read
/// model built only from events, which a volume holds and a replay rebuilds.
public let cafeSystem = SystemDefinition(name: "cafe", services: [
    .init(orderService, port: 8081, pathPrefixes: ["/orders"]),
    .init(paymentService, port: 8082, pathPrefixes: ["/payments"]),
    .init(drinkService, port: 8083, pathPrefixes: ["/drinks", "/orderinfos"]),
    .init(deliveryService, port: 8084, pathPrefixes: ["/deliveries", "/cancellations"]),
    .init(deliveryCenterService, port: 8085, pathPrefixes: ["/deliverypages"], storePreference: .embedded),
])

/// Cafe as `msa` drives it: the definition, the seed's scenario, the benchmark.
public let cafe = DrivenSystem(cafeSystem,
                               scenario: { api, control in await CafeScenario(api: api, control: control).perform() },
                               workload: { api, clients in CafeBench(api: api, clients: clients) },
                               fuzzSamples: [
                                   .init("POST", "/orders", CafeSeed.order()),
                                   .init("PATCH", "/drinks/{id}", CafeSeed.made),
                               ])
