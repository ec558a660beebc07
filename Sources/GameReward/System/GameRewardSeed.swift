import Chassis

/// The seed's own bodies, as httpie sends them (numbers as strings): the one copy the
/// scenario, the benchmark and the tests use.
public enum GameRewardSeed {
    /// `http localhost:8081/missions customerId=11 status=Achieved`
    public static func mission(customerId: Int = 11) -> JSONValue {
        ["customerId": .string(String(customerId)), "status": "Achieved"]
    }

    /// `http localhost:8081/missions costomerId=1 status=Achieved` (the seed's typo, seed
    /// lines 332–333, marked `#Success` there).
    public static func misspeltMission(customerId: Int = 1) -> JSONValue {
        ["costomerId": .string(String(customerId)), "status": "Achieved"]
    }

    /// `http localhost:8083/wallets/1 status=Exchanged` (httpie sends it as a POST; the seed
    /// calls it a PATCH, and both work).
    public static let exchange: JSONValue = ["status": "Exchanged"]
}
