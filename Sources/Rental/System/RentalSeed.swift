import Chassis

/// The seed's own bodies, as httpie sends them (numbers as strings): the one copy the
/// scenario, the benchmark and the tests use.
public enum RentalSeed {
    /// `http POST :8080/reserves price=20000 startDay=20210624 endDay=20210624 customer=andy status=approve`
    public static func request(customer: String = "andy") -> JSONValue {
        ["price": "20000", "startDay": "20210624", "endDay": "20210624", "customer": .string(customer), "status": "approve"]
    }
}
