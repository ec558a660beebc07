import AsyncHTTPClient
import Chassis
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import Synchronization

/// The single entry point of a system: routes by path prefix to the services, spreads
/// requests over each service's replicas, and answers 503 JSON (with `Retry-After`) for a
/// route whose every replica is unreachable while the other routes keep working.
///
/// Passes `X-Request-Id` (creating one) and `traceparent` through, and sets
/// `X-Forwarded-Host` so services write HAL links that point back at the gateway. A body
/// over ``BodyLimit`` (`MSA_MAX_BODY_BYTES`) is a 413 here, before it reaches a service.
public struct Gateway: Sendable {
    public struct Route: Sendable {
        public var prefix: String
        public var service: String
        public var replicas: [String]
        /// The service's internal routes, never forwarded (``InternalRoute``).
        public var internalRoutes: [InternalRoute]
        public init(prefix: String, service: String, replicas: [String], internalRoutes: [InternalRoute] = []) {
            self.prefix = prefix
            self.service = service
            self.replicas = replicas
            self.internalRoutes = internalRoutes
        }
    }

    let routes: [Route]
    public let client: HTTPClient
    private let counter = Counter()

    public init(routes: [Route], client: HTTPClient = Gateway.makeClient()) {
        // Longest prefix first, so /requestLists is not taken by a shorter /re… prefix.
        self.routes = routes.sorted { $0.prefix.count > $1.prefix.count }
        self.client = client
    }

    /// Routes for `system`: each service at `replicas[name]` or its default port.
    public static func routes(for system: SystemDefinition, host: String = "127.0.0.1", replicas: [String: [String]] = [:]) -> [Route] {
        system.services.flatMap { member in
            member.pathPrefixes.map {
                Route(prefix: $0, service: member.name, replicas: replicas[member.name] ?? ["http://\(host):\(member.port)"],
                      internalRoutes: member.definition.internalRoutes)
            }
        }
    }

    /// The gateway's client. A replica that refuses the connection fails at once, so the
    /// request moves on to the next replica: the pool's own retries (on a backoff that
    /// grows while the replica stays down) would hold each request until `connect`.
    public static func makeClient(connect: Duration = .seconds(1)) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: TimeAmount(connect), read: .seconds(3600))
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 256
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router(options: .autoGenerateHeadEndpoints)
        router.add(middleware: BodyLimitMiddleware())
        router.add(middleware: RequestLogMiddleware())
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: ProxyMiddleware(gateway: self))
        router.get("actuator/health") { _, _ in try JSONResponse.make(.ok, ["status": "UP"]) }
        router.get("actuator/health/liveness") { _, _ in try JSONResponse.make(.ok, ["status": "UP"]) }
        router.get("actuator/health/readiness") { _, _ in try JSONResponse.make(.ok, ["status": "UP"]) }
        router.get("metrics") { _, _ in JSONResponse.make(.ok, data: Data(Telemetry.scrape().utf8), contentType: "text/plain; version=0.0.4") }
        router.refusingUnservedMethods()
        return router
    }

    func route(for path: String) -> Route? {
        routes.first { path == $0.prefix || path.hasPrefix($0.prefix + "/") || path.hasPrefix($0.prefix + "?") }
    }

    /// Forwards `request` to a replica of `route`, trying the next replica when one cannot
    /// be reached (nothing was sent, so trying again is safe for any method).
    func forward(_ request: Request, to route: Route) async throws -> Response {
        let body = try await BodyLimit.collect(request)
        let requestId = request.headers[RequestIdentityMiddleware<BasicRequestContext>.requestIdHeader] ?? RandomID.uuid()
        let start = counter.next()
        for attempt in 0..<route.replicas.count {
            let replica = route.replicas[(start + attempt) % route.replicas.count]
            var outbound = HTTPClientRequest(url: replica + request.uri.description)
            outbound.method = HTTPMethod(rawValue: request.method.rawValue)
            for field in request.headers where !Self.hopByHop.contains(field.name.canonicalName) {
                outbound.headers.add(name: field.name.rawName, value: field.value)
            }
            outbound.headers.replaceOrAdd(name: "X-Request-Id", value: requestId)
            outbound.headers.replaceOrAdd(name: "X-Forwarded-Host", value: request.head.authority ?? "localhost")
            if body.readableBytes > 0 { outbound.body = .bytes(body) }
            do {
                let response = try await client.execute(outbound, timeout: .seconds(3600))
                var headers = HTTPFields()
                for (name, value) in response.headers where !Self.hopByHop.contains(name.lowercased()) {
                    if let fieldName = HTTPField.Name(name) { headers.append(HTTPField(name: fieldName, value: value)) }
                }
                headers[RequestIdentityMiddleware<BasicRequestContext>.requestIdHeader] = requestId
                return Response(status: .init(code: Int(response.status.code)), headers: headers,
                                body: ResponseBody(asyncSequence: response.body))
            } catch let error as HTTPClientError where error == .connectTimeout {
                continue
            } catch let error as IOError where error.errnoCode == ECONNREFUSED {
                continue
            } catch {
                if Self.isConnectFailure(error) { continue }
                throw Refusal.unavailable("\(route.service) failed: \(error)", retryAfterSeconds: 5)
            }
        }
        var response = JSONResponse.refusal(.unavailable("\(route.service) is unavailable", retryAfterSeconds: 5))
        response.headers[RequestIdentityMiddleware<BasicRequestContext>.requestIdHeader] = requestId
        return response
    }

    static func isConnectFailure(_ error: any Error) -> Bool {
        let text = String(describing: error)
        return text.contains("connectTimeout") || text.contains("ECONNREFUSED") || text.contains("Connection refused")
            || text.contains("connectionRefused")
    }

    /// Not forwarded: hop-by-hop fields, and the system's internal credential, which no
    /// caller from outside may pass on.
    static let hopByHop: Set<String> = ["connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection", "te", "trailer", "host",
                                        "content-length", "x-msa-internal-token"]

    /// Round-robin position shared by all requests.
    final class Counter: Sendable {
        private let value = Mutex(0)
        func next() -> Int { value.withLock { $0 &+= 1; return $0 & Int.max } }
    }
}

/// Sends requests whose path matches a route to the gateway's proxy; lets the rest reach
/// the gateway's own routes (health, metrics).
struct ProxyMiddleware<Context: RequestContext>: RouterMiddleware {
    let gateway: Gateway

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let route = gateway.route(for: request.uri.path) else { return try await next(request, context) }
        // From outside, a route only the system's services may call does not exist.
        if route.internalRoutes.contains(where: { $0.matches(request.method, path: request.uri.path) }) {
            return JSONResponse.refusal(.notFound("no route for \(request.method) \(request.uri.path)"))
        }
        return try await gateway.forward(request, to: route)
    }
}
