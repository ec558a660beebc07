import Chassis

/// The seed's own bodies (its Postman requests and its siege line): the one copy the
/// scenario, the benchmark and the tests use.
public enum VaccineSeed {
    /// `POST /user/date {"userName": "Taeyeon Kim", "userRegNumber": "890309-2766876"}`
    public static func person(_ name: String = "Taeyeon Kim", _ number: String = "890309-2766876") -> JSONValue {
        ["userName": .string(name), "userRegNumber": .string(number)]
    }

    /// `POST /user/reserve {…, "reserveDate": "2021-10-05"}`
    public static func booking(_ name: String = "Taeyeon Kim", _ number: String = "890309-2766876", on date: String = "2021-10-05") -> JSONValue {
        ["userName": .string(name), "userRegNumber": .string(number), "reserveDate": .string(date)]
    }

    /// `POST /hospital/inject {"userId": 1}`, and the cancel's `POST /user/cancel {"userId": 1}`.
    public static func user(_ id: Int64) -> JSONValue { ["userId": .number(Double(id))] }

    /// The siege body of the seed's autoscaling run: `'http://user:8080/user/date POST {"userName":"Lee","userRegNumber":"930619-2345678"}'`.
    public static let siege = person("Lee", "930619-2345678")

    /// The second person of the seed's date look-ups, and the one it books while the
    /// hospital is down.
    public static let jieun = (name: "Jieun Lee", lookUp: "930619-2352628", booking: "930619-2377821")
}
