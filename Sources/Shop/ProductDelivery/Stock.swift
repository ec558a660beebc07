import Chassis
import ShopContracts

/// **(decision)** The stock of one product (id: its product id), which the seed's board
/// checked before delivery and never printed: seeded from `STOCK_INITIAL`, taken when a
/// delivery sets off, put back when it is cancelled. Every movement runs in the
/// transaction that changes the delivery, and writes to a store run one at a time
/// (replicas included), so a check and its take cannot interleave with another's: the
/// stock is never negative.
struct Stock: Entity, Equatable {
    static let collection = "stocks"
    var id: Int64?
    var productId: String
    var productName: String
    var qty: Int

    /// The product's stock as stored, else as configured (a product added to
    /// `STOCK_INITIAL` is stocked from its first order); nil when it is not stocked.
    static func current(_ productId: String, _ initial: InitialStock, _ tx: any StoreTransaction) async throws -> Stock? {
        guard let id = Int64(productId), id > 0 else { return nil }
        return try await tx.get(Stock.self, id: id) ?? initial.stocks.first { $0.id == id }
    }

    /// Why `qty` of it cannot be delivered, or nil when it can.
    static func shortage(of qty: Int, _ productId: String, _ stock: Stock?) -> String? {
        guard let stock else { return "product \(productId) is not stocked" }
        return stock.qty >= qty ? nil : "\(stock.productName) is out of stock: \(qty) ordered, \(stock.qty) left"
    }
}

/// The stock `STOCK_INITIAL` configures: `productId:productName=qty`, comma-separated
/// (`1:ITbook=100,2:Galaxy=50`). Unset or empty, the seed's ITbook and two more, 1,000 each.
struct InitialStock: Sendable {
    let stocks: [Stock]

    init(_ setting: String) throws {
        var stocks: [Stock] = []
        for entry in setting.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
            let product = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            let name = product[0].split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard product.count == 2, name.count == 2, let id = Int64(name[0]), id > 0, !name[1].isEmpty, let qty = Int(product[1]), qty >= 0 else {
                throw SettingError("STOCK_INITIAL: \"\(entry)\" is not productId:productName=qty (e.g. 1:ITbook=100)")
            }
            stocks.append(Stock(id: id, productId: name[0], productName: name[1], qty: qty))
        }
        self.stocks = stocks.isEmpty ? InitialStock.seed : stocks
    }

    private init(stocks: [Stock]) { self.stocks = stocks }

    /// The stock when `STOCK_INITIAL` is unset.
    static let `default` = InitialStock(stocks: seed)

    static let seed = [Stock(id: 1, productId: "1", productName: "ITbook", qty: 1000), Stock(id: 2, productId: "2", productName: "Galaxy", qty: 1000),
                       Stock(id: 3, productId: "3", productName: "Keyboard", qty: 1000)]

    /// Stores the configured stock of every product not stored yet: `GET /stocks` lists
    /// them from the start. Runs once as the service starts; what orders moved stays.
    func seed(_ store: any Store) async throws {
        try await store.write { tx in
            for stock in stocks where try await tx.get(Stock.self, id: stock.id!) == nil { try await tx.save(stock) }
        }
    }
}
