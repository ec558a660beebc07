import ArgumentParser
import AsyncHTTPClient
import Chassis
import Foundation
import Histogram
import Synchronization
import SystemDriver

/// `msa bench <system>`: concurrent customers through the gateway of a running system,
/// reporting throughput, latency percentiles (HdrHistogram) and event-to-view lag.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark a running system through its gateway (throughput, latency p50/p99/max, event-to-view lag).",
        discussion: """
            Start the system first from a release build, e.g.
              swift build -c release && .build/release/msa up rental --data /tmp/bench
              .build/release/msa bench rental --data /tmp/bench
            """)
    @OptionGroup var system: SystemArgument
    @OptionGroup var data: DataOption
    @Option(help: "The gateway's URL (default: the running supervisor's gateway).") var gateway: String?
    @Option(help: "A workload other than the main flow, by name (vaccine: lookups, the seed's flood of date look-ups).") var workload: String?
    @Option(help: "Concurrent customers.") var clients = 32
    @Option(help: "Seconds measured, after the warm-up.") var seconds = 20
    @Option(help: "Seconds of warm-up, not measured.") var warmup = 3
    @Option(help: "Write the results as JSON to this file too.") var json: String?
    @Option(help: ArgumentHelp("NATS servers of the system's JetStream: also measure JetStream's raw acknowledged publish rate, the ceiling for events.",
                               valueName: "bus"))
    var bus: String?

    func run() async throws {
        // The clients share the machine with the system: no thread hops between NIO and
        // the concurrency pool.
        Serve.useEventLoopsForConcurrency(threads: ProcessInfo.processInfo.environment["MSA_THREADS"].flatMap(Int.init) ?? 2)
        let driven = try Catalog.driven(system.name)
        let base: String
        if let gateway { base = gateway } else { base = try await ControlClient(data: data, system: driven.name).gatewayURL() }
        // A connection per customer, as real customers have: a smaller pool would queue
        // them in this process and the figures would measure the queue.
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = clients
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let make: DrivenSystem.MakeWorkload
        if let name = self.workload {
            guard let experiment = driven.experiments[name] else {
                try? await http.shutdown()
                throw ValidationError("\(driven.name) has no workload \(name); it has: \(driven.experiments.keys.sorted().joined(separator: ", "))")
            }
            make = experiment
        } else {
            make = driven.workload
        }
        let workload = make(SystemClient(base: base, http: http), clients)
        var raw: RawPublishBench.Result?
        if let bus {
            // Before the system's run, not during it: both would share the two cores.
            let servers = bus.split(separator: ",").map(String.init)
            raw = try await RawPublishBench.run(servers: servers, publishers: clients, duration: .seconds(max(3, seconds / 4)))
            print(String(format: "jetstream raw publish: %.0f acknowledged messages/s (%d publishers, %d in %.1f s)",
                         raw!.rate, clients, raw!.published, Double(raw!.duration.wholeMilliseconds) / 1000))
        }
        print("bench \(driven.name): \(clients) clients through \(base), \(warmup) s warm-up, \(seconds) s measured")
        let report: BenchReport
        do {
            report = try await BenchRun(warmup: .seconds(warmup), measured: .seconds(seconds)).run(workload)
            try await http.shutdown()
        } catch {
            try? await http.shutdown()
            throw error
        }
        print(report.text(clients: clients))
        if let raw {
            print(String(format: "jetstream raw publish (measured before the run): %.0f/s", raw.rate))
        }
        if let json { try report.json(clients: clients).write(to: URL(fileURLWithPath: json)) }
    }
}

/// Runs a workload: warm-up, then the measured window, printing a progress line each second.
struct BenchRun {
    let warmup: Duration
    let measured: Duration

    func run(_ workload: some Workload) async throws -> BenchReport {
        let progress = BenchProgress()
        let start = ContinuousClock.now
        let deadline = start + warmup + measured
        let tally = await withTaskGroup(of: Tally?.self) { group in
            group.addTask {
                try? await LoopTimer.sleep(until: start + warmup)
                progress.measuringSince.withLock { $0 = .now }
                progress.done.store(0, ordering: .relaxed)
                progress.errors.store(0, ordering: .relaxed)
                await printProgress(progress, headline: workload.headline, until: deadline)
                return nil
            }
            for index in 0..<workload.clients {
                group.addTask { await workload.client(index, until: deadline, progress: progress) }
            }
            var total = Tally()
            for await tally in group { if let tally { total.add(tally) } }
            return total
        }
        let window = progress.measuringSince.withLock { $0 }.map { $0.duration(to: deadline) } ?? measured
        return BenchReport(headline: workload.headline, window: window, tally: tally)
    }

    private func printProgress(_ progress: BenchProgress, headline: String, until deadline: ContinuousClock.Instant) async {
        let terminal = isatty(STDOUT_FILENO) == 1
        let began = ContinuousClock.now
        var last = 0
        while ContinuousClock.now < deadline {
            try? await LoopTimer.sleep(for: .seconds(1))
            let done = progress.done.load(ordering: .relaxed)
            let elapsed = Double(began.duration(to: .now).wholeMilliseconds) / 1000
            let line = String(format: "  %5.1f s  %@ %d (%d/s now, %.0f/s average)  errors %d", elapsed, headline, done, done - last,
                              Double(done) / max(elapsed, 0.001), progress.errors.load(ordering: .relaxed))
            last = done
            if terminal { FileHandle.standardOutput.write(Data("\r\(line)   ".utf8)) } else { print(line) }
        }
        if terminal { print("") }
    }
}

/// The figures of one run, as text and as JSON.
struct BenchReport {
    let headline: String
    let window: Duration
    let tally: Tally

    var seconds: Double { Double(window.wholeMilliseconds) / 1000 }

    func rate(_ name: String) -> Double { Double(tally.measures[name]?.latency.totalCount ?? 0) / max(seconds, 0.001) }

    func text(clients: Int) -> String {
        var lines = [String(format: "%@: %.0f/s over %.1f s with %d clients", headline, rate(headline), seconds, clients), ""]
        lines.append("operation                    count     rate/s   p50 ms   p99 ms   max ms  errors")
        for (name, measure) in tally.measures.sorted(by: { $0.key < $1.key }) {
            let h = measure.latency
            lines.append(name.padding(toLength: 26, withPad: " ", startingAt: 0)
                + String(format: "%9llu  %9.0f  %7.1f  %7.1f  %7.1f  %6d", h.totalCount, rate(name), Self.ms(h.valueAtPercentile(50)),
                         Self.ms(h.valueAtPercentile(99)), Self.ms(h.max), measure.errors))
        }
        return lines.joined(separator: "\n")
    }

    func json(clients: Int) throws -> Data {
        var operations: [String: Any] = [:]
        for (name, measure) in tally.measures {
            let h = measure.latency
            operations[name] = ["count": h.totalCount, "ratePerSecond": rate(name), "p50ms": Self.ms(h.valueAtPercentile(50)),
                                "p99ms": Self.ms(h.valueAtPercentile(99)), "maxMs": Self.ms(h.max), "errors": measure.errors]
        }
        let report: [String: Any] = ["headline": headline, "clients": clients, "seconds": seconds, "operations": operations]
        return try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
    }

    static func ms(_ micros: UInt64) -> Double { Double(micros) / 1000 }
}
