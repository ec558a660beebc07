import Chassis
import ChassisTesting
import Testing
import Vaccine
import VaccineContracts
import VaccineStock

/// stock: a dose set aside per booking, given back on cancellation, never below zero.
@Suite struct StockTests {
    static func received(_ userId: Int64, _ type: String = "Pfizer") -> HospitalReservationReceived {
        HospitalReservationReceived(id: userId, hospitalName: "Korean Hospital", userId: userId, userName: "Lee", userRegNumber: "930619-2******",
                                    reserveDate: "2021-10-05", vaccineType: type)
    }

    func level(_ stock: ServiceRig, _ type: String = "Pfizer") async throws -> JSONValue? {
        try await stock.get("/stock/\(type)").json["stock"]
    }

    @Test func aReceivedBookingTakesOneDoseOnceAndSaysSo() async throws {
        try await withService(stockService, environment: ["STOCK_INITIAL": "Pfizer=3,Moderna=1"]) { stock in
            try await stock.deliver(Self.received(1), from: "hospital")
            try await stock.deliver(Self.received(1), from: "hospital")

            #expect(try await stock.published(VaccineAllocated.self) == [VaccineAllocated(userId: 1, vaccineType: "Pfizer", remaining: 2)])
            #expect(try await level(stock) == 2)
            let movements = try await stock.get("/stocks/search/findByUserId?userId=1").embedded("stocks")
            #expect(movements.map { $0["vaccineCount"] } == [-1])
            let all = try await stock.get("/stock").json["stock"]
            #expect(all?[0]?["vaccineType"] == "Moderna" && all?[1]?["stock"] == 2)
        }
    }

    @Test func anExhaustedTypeIsAShortageAndTheStockNeverGoesNegative() async throws {
        try await withService(stockService, environment: ["STOCK_INITIAL": "Pfizer=1"]) { stock in
            for user in Int64(1)...3 { try await stock.deliver(Self.received(user), from: "hospital") }
            try await stock.deliver(Self.received(4, "Novavax"), from: "hospital")

            #expect(try await stock.published(VaccineAllocated.self).map(\.userId) == [1])
            let shortages = try await stock.published(VaccineShortage.self)
            #expect(shortages.map(\.userId) == [2, 3, 4])
            #expect(shortages.first?.reason == "no Pfizer dose is left in stock")
            #expect(try await level(stock) == 0)
            // A shortage's booking, cancelled, gives back nothing it never took.
            try await stock.deliver(HospitalReservationCancelled(userId: 2, vaccineType: "Pfizer"), from: "hospital")
            #expect(try await level(stock) == 0)
        }
    }

    @Test func aCancellationGivesTheDoseBackExactlyOnceEvenDeliveredTwice() async throws {
        try await withService(stockService, environment: ["STOCK_INITIAL": "Pfizer=5"]) { stock in
            try await stock.deliver(Self.received(1), from: "hospital")
            let cancelled = HospitalReservationCancelled(userId: 1, vaccineType: "Pfizer")
            try await stock.deliver(cancelled, from: "hospital")
            try await stock.deliver(cancelled, from: "hospital")

            #expect(try await level(stock) == 5)
            let movements = try await stock.get("/stocks/search/findByUserId?userId=1").embedded("stocks")
            #expect(movements.map { $0["vaccineCount"] } == [-1, 1])
        }
    }

    @Test func withoutAConfigurationEachOfTheSeedsFourHasAThousand() async throws {
        try await withService(stockService) { stock in
            let all = try await stock.get("/stock").json["stock"]
            guard case .array(let levels)? = all else { Issue.record("no levels"); return }
            #expect(levels.compactMap { $0["vaccineType"]?.stringValue } == ["AstraZeneca", "Janssen", "Moderna", "Pfizer"])
            #expect(levels.allSatisfy { $0["stock"] == 1000 })
            try await stock.expectRefusal(.get, "/stock/Novavax", status: 404, saying: "no vaccine named Novavax")
            try await stock.expectRefusal(.post, "/stocks", #"{"vaccineType":"Pfizer","vaccineCount":100}"#, status: 405)
        }
    }
}
