import Foundation

/// Why the chassis turned a request or command away, as a user should read it.
///
/// Aggregates throw refusals from their commands; the HTTP layer answers them as
/// `{"error": message, "field": field}` with the status below, and the transaction they
/// were thrown in is rolled back, so a refusal never changes anything.
public enum Refusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// 400: the request itself is wrong (malformed JSON, a missing or mistyped field).
    case badRequest(_ message: String, field: String? = nil)
    /// 403: the caller may not do this (an internal route called from outside).
    case forbidden(_ message: String)
    /// 404: the addressed thing does not exist.
    case notFound(_ message: String)
    /// 409: the request is well-formed but illegal in the current state (naming the field
    /// whose change is illegal, when one is).
    case conflict(_ message: String, field: String? = nil)
    /// 413: the request body is larger than the service reads (``BodyLimit``).
    case tooLarge(_ message: String)
    /// 422: a field's value breaks a business rule.
    case invalid(_ message: String, field: String)
    /// 503 with `Retry-After`: a service this one depends on cannot answer now.
    case unavailable(_ message: String, retryAfterSeconds: Int)

    public var status: Int {
        switch self {
        case .badRequest: 400
        case .forbidden: 403
        case .notFound: 404
        case .conflict: 409
        case .tooLarge: 413
        case .invalid: 422
        case .unavailable: 503
        }
    }

    public var message: String {
        switch self {
        case .badRequest(let m, _), .forbidden(let m), .notFound(let m), .conflict(let m, _), .tooLarge(let m), .invalid(let m, _), .unavailable(let m, _): m
        }
    }

    public var field: String? {
        switch self {
        case .badRequest(_, let f), .conflict(_, let f): f
        case .invalid(_, let f): f
        default: nil
        }
    }

    public var description: String { "\(status) \(message)" }
}
