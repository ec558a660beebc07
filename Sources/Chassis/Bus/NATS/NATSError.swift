import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

public enum NATSError: Error, CustomStringConvertible, Equatable {
    case invalidURL(String)
    case invalidSubject(String)
    case invalidHeader(String)
    case notConnected
    case connectionLost
    case closed
    case noResponders(subject: String)
    case timedOut(subject: String, after: Duration)
    case server(String)

    public var description: String {
        switch self {
        case .invalidURL(let url): "invalid NATS URL: \(url)"
        case .invalidSubject(let subject): "invalid NATS subject: \(subject)"
        case .invalidHeader(let name): "invalid NATS header: \(name)"
        case .notConnected: "not connected to NATS"
        case .connectionLost: "the NATS connection was lost"
        case .closed: "the NATS client is closed"
        case .noResponders(let subject): "no responders on \(subject)"
        case .timedOut(let subject, let after): "no answer on \(subject) within \(after)"
        case .server(let message): "NATS server error: \(message)"
        }
    }
}
