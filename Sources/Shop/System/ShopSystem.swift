import Chassis
import ShopMarketing
import ShopOrder
import ShopProductDelivery
import SystemDriver

/// Shop delivery ("12st"): the seed's ports, its gateway on 8088 (the seed's `PATCH
/// localhost:8088/orders/5`), routes by path prefix.
///
/// Polyglot persistence: order and productdelivery, the core domains the seed put on
/// MySQL, use the system's database (PostgreSQL in production); marketing, the
/// supporting domain it left on H2, keeps its SQLite file: a coupon ledger of its own,
/// which a volume holds.
public let shopSystem = SystemDefinition(name: "shop", gatewayPort: 8088, services: [
    .init(orderService, port: 8081, pathPrefixes: ["/orders", "/orderStatuses"]),
    .init(productDeliveryService, port: 8082, pathPrefixes: ["/ordermgmts", "/stocks"]),
    .init(marketingService, port: 8083, pathPrefixes: ["/promotes"], storePreference: .embedded),
])

/// Shop as `msa` drives it: the definition, the seed's scenario, the benchmark.
public let shop = DrivenSystem(shopSystem,
                               scenario: { api, control in await ShopScenario(api: api, control: control).perform() },
                               workload: { api, clients in ShopBench(api: api, clients: clients) },
                               fuzzSamples: [
                                   .init("POST", "/orders", ShopSeed.order()),
                                   .init("PATCH", "/orders/{id}", ShopSeed.cancel),
                                   // Not counted: acceptances also come from every order placed, and a repeated one answers the first.
                                   .init("POST", "/ordermgmts", ShopSeed.orderMgmt(orderId: 900_000), creates: nil),
                               ])
