import Chassis
import SystemDriver
import VaccineDashboard
import VaccineHospital
import VaccineReservation
import VaccineStock
import VaccineUser

/// Vaccine reservation ("K-Vaccine"): the seed's ports, and the gateway's routes by path
/// prefix (the seed's Spring Cloud Gateway: `/user/**`, `/reservation/**`, `/hospital/**`,
/// `/stock/**`, `/dashboard/**`), plus the repositories' collections.
///
/// Polyglot persistence: dashboard keeps its SQLite file when the system runs on
/// PostgreSQL, as the seed's dashboard kept HSQLDB beside the others' H2: the read model
/// built only from events, which a volume holds and a replay rebuilds.
///
/// Personal numbers are masked in every log line of every process (``Redaction/koreanResidentNumber``).
public let vaccineSystem = SystemDefinition(name: "vaccine", services: [
    .init(userService, port: 8081, pathPrefixes: ["/user", "/users"]),
    // The seed books 2021-10-05: locally the calendar opens in the seed's week (BookingCalendar).
    .init(reservationService, port: 8082, pathPrefixes: ["/reservation", "/reservations"],
          localSettings: ["RESERVATION_FIRST_DAY": "2021-10-01", "RESERVATION_DAYS": "30"]),
    .init(hospitalService, port: 8083, pathPrefixes: ["/hospital", "/hospitals"]),
    .init(stockService, port: 8084, pathPrefixes: ["/stock", "/stocks"]),
    .init(dashboardService, port: 8085, pathPrefixes: ["/dashboard", "/dashboards", "/notifications"], storePreference: .embedded),
], redactions: [.koreanResidentNumber])

/// Vaccine as `msa` drives it: the definition, the seed's scenario, the benchmark.
public let vaccine = DrivenSystem(vaccineSystem,
                                  scenario: { api, control in await VaccineScenario(api: api, control: control).perform() },
                                  workload: { api, clients in VaccineBench(api: api, clients: clients) },
                                  experiments: ["lookups": { api, clients in VaccineLookUpFlood(api: api, clients: clients) }],
                                  fuzzSamples: [
                                      .init("POST", "/user/date", VaccineSeed.person(), creates: nil),
                                      .init("POST", "/user/reserve", VaccineSeed.booking("Fuzz", "950505-1234567"), creates: "/users"),
                                      .init("POST", "/user/cancel", VaccineSeed.user(1), creates: nil),
                                      .init("POST", "/hospital/inject", VaccineSeed.user(1), creates: nil),
                                  ])
