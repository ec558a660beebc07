import Chassis

/// The seed's own bodies, as httpie sends them (numbers as strings): the one copy the
/// scenario, the benchmark and the tests use.
public enum CafeSeed {
    /// `http http://order:8080/orders phoneNumber="01082947794" productName="coffee" qty=3 amt=6000`
    public static func order(phoneNumber: String = "01082947794", productName: String = "coffee", qty: Int = 3, amt: Int = 6000) -> JSONValue {
        ["phoneNumber": .string(phoneNumber), "productName": .string(productName), "qty": .string(String(qty)), "amt": .string(String(amt))]
    }

    /// `http PATCH http://drink:8080/drinks/2 status="Made"`
    public static let made: JSONValue = ["status": "Made"]
}
