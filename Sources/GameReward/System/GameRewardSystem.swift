import Chassis
import GameRewardGift
import GameRewardMission
import GameRewardMyPage
import GameRewardReward
import GameRewardWallet
import SystemDriver

/// Game reward (missions, rewards, wallet, gifts): the seed's ports, and the gateway's
/// routes by path prefix (the seed used an Istio gateway; here it is 8080).
///
/// Polyglot persistence: mypage keeps its SQLite file when the system runs on PostgreSQL,
/// as the seed's mypage kept MariaDB beside the others' H2 — the read model the frontend
/// and the seed's siege hit hardest, built only from events, which a volume holds well
/// and a replay rebuilds.
public let gameRewardSystem = SystemDefinition(name: "gamereward", services: [
    .init(missionService, port: 8081, pathPrefixes: ["/missions"]),
    .init(rewardService, port: 8082, pathPrefixes: ["/rewards"]),
    .init(walletService, port: 8083, pathPrefixes: ["/wallets"]),
    .init(giftService, port: 8084, pathPrefixes: ["/gifts"]),
    .init(myPageService, port: 8085, pathPrefixes: ["/mypages"], storePreference: .embedded),
])

/// Game reward as `msa` drives it: the definition, the seed's scenario, the benchmark.
public let gameReward = DrivenSystem(gameRewardSystem,
                                     scenario: { api, control in await GameRewardScenario(api: api, control: control).perform() },
                                     workload: { api, clients in GameRewardBench(api: api, clients: clients) },
                                     fuzzSamples: [
                                         .init("POST", "/missions", GameRewardSeed.mission(customerId: 77)),
                                         .init("PATCH", "/wallets/1", GameRewardSeed.exchange),
                                     ])
