import Foundation
import NIOCore

/// A message as NATS delivers it: subject, the subscription it matched, the reply subject,
/// headers (with the status line NATS uses for no-responders and JetStream's flow
/// control), and the payload.
public struct NATSMessage: Sendable {
    public var subject: String
    public var sid: Int
    public var replyTo: String?
    /// Header fields in the order sent; a name may repeat.
    public var headers: [(name: String, value: String)]
    /// The status of the header block's first line (`NATS/1.0 503`), if any.
    public var status: Int?
    public var statusDescription: String?
    public var payload: ByteBuffer

    public init(subject: String, sid: Int = 0, replyTo: String? = nil, headers: [(name: String, value: String)] = [],
                status: Int? = nil, statusDescription: String? = nil, payload: ByteBuffer = ByteBuffer()) {
        self.subject = subject
        self.sid = sid
        self.replyTo = replyTo
        self.headers = headers
        self.status = status
        self.statusDescription = statusDescription
        self.payload = payload
    }

    /// The first value of header `name` (case-insensitive, as HTTP-style headers are).
    /// The first value of header `name`, whose case does not matter (ASCII).
    public func header(_ name: String) -> String? {
        if let exact = headers.first(where: { $0.name == name }) { return exact.value }
        return headers.first { $0.name.utf8.elementsEqual(name.utf8) { Self.folded($0) == Self.folded($1) } }?.value
    }

    private static func folded(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }

    public var data: Data { Data(payload.readableBytesView) }
}

/// What the server sends, one operation at a time.
enum NATSServerOp: Sendable {
    case info(Data)
    case msg(NATSMessage)
    case ping
    case pong
    case ok
    case err(String)
}

/// Splits the server's byte stream into operations. Control lines end in CRLF; a message's
/// payload (and header block) follows its line and has its length given there, so nothing
/// in a payload is ever taken for a control line.
struct NATSDecoder: ByteToMessageDecoder {
    typealias InboundOut = NATSServerOp

    /// Longest control line accepted (subjects and reply subjects included).
    static let maxControlLine = 64 * 1024

    struct Malformed: Error, CustomStringConvertible {
        let line: String
        var description: String { "malformed NATS protocol line: \(line.prefix(200))" }
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let op = try Self.parse(&buffer) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(op))
        return .continue
    }

    /// One operation from the front of `buffer`, consuming it; nil (consuming nothing)
    /// while it is incomplete.
    static func parse(_ buffer: inout ByteBuffer) throws -> NATSServerOp? {
        let view = buffer.readableBytesView
        guard let end = lineEnd(in: view) else {
            if view.count > maxControlLine { throw Malformed(line: String(decoding: view.prefix(200), as: UTF8.self)) }
            return nil
        }
        let lineLength = end - view.startIndex
        let line = String(decoding: view[view.startIndex..<end], as: UTF8.self)
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard let verb = fields.first?.uppercased() else { throw Malformed(line: line) }
        switch verb {
        case "MSG":
            // MSG <subject> <sid> [reply-to] <#bytes>
            guard fields.count == 4 || fields.count == 5, let sid = Int(fields[2]), let size = Int(fields.last!), size >= 0 else {
                throw Malformed(line: line)
            }
            guard buffer.readableBytes >= lineLength + 2 + size + 2 else { return nil }
            buffer.moveReaderIndex(forwardBy: lineLength + 2)
            let payload = buffer.readSlice(length: size)!
            buffer.moveReaderIndex(forwardBy: 2)
            return .msg(NATSMessage(subject: String(fields[1]), sid: sid, replyTo: fields.count == 5 ? String(fields[3]) : nil,
                                    payload: payload))
        case "HMSG":
            // HMSG <subject> <sid> [reply-to] <#header bytes> <#total bytes>
            guard fields.count == 5 || fields.count == 6, let sid = Int(fields[2]),
                  let headerSize = Int(fields[fields.count - 2]), let total = Int(fields.last!), headerSize >= 0, total >= headerSize else {
                throw Malformed(line: line)
            }
            guard buffer.readableBytes >= lineLength + 2 + total + 2 else { return nil }
            buffer.moveReaderIndex(forwardBy: lineLength + 2)
            let headerBlock = buffer.readSlice(length: headerSize)!
            let payload = buffer.readSlice(length: total - headerSize)!
            buffer.moveReaderIndex(forwardBy: 2)
            var message = NATSMessage(subject: String(fields[1]), sid: sid, replyTo: fields.count == 6 ? String(fields[3]) : nil,
                                      payload: payload)
            try parseHeaders(headerBlock, into: &message)
            return .msg(message)
        case "PING":
            buffer.moveReaderIndex(forwardBy: lineLength + 2)
            return .ping
        case "PONG":
            buffer.moveReaderIndex(forwardBy: lineLength + 2)
            return .pong
        case "+OK":
            buffer.moveReaderIndex(forwardBy: lineLength + 2)
            return .ok
        case "-ERR":
            buffer.moveReaderIndex(forwardBy: lineLength + 2)
            let message = line.dropFirst(4).trimmingCharacters(in: .whitespaces)
            return .err(message.trimmingCharacters(in: CharacterSet(charactersIn: "'")))
        case "INFO":
            buffer.moveReaderIndex(forwardBy: lineLength + 2)
            return .info(Data(line.dropFirst(4).trimmingCharacters(in: .whitespaces).utf8))
        default:
            throw Malformed(line: line)
        }
    }

    /// The index of the CR of the first CRLF in `view`.
    private static func lineEnd(in view: ByteBufferView) -> ByteBufferView.Index? {
        var index = view.startIndex
        while let cr = view[index...].firstIndex(of: UInt8(ascii: "\r")) {
            let next = view.index(after: cr)
            guard next < view.endIndex else { return nil }
            if view[next] == UInt8(ascii: "\n") { return cr }
            index = next
        }
        return nil
    }

    /// `NATS/1.0[ <status>[ <description>]]` then `Name: value` lines, then an empty line.
    /// Read byte by byte: every event a consumer receives comes with a header block.
    static func parseHeaders(_ block: ByteBuffer, into message: inout NATSMessage) throws {
        try block.readableBytesView.withUnsafeBytes { bytes in
            func text(_ range: Range<Int>) -> String { String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self) }
            func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
            func trimmed(_ range: Range<Int>) -> Range<Int> {
                var (lower, upper) = (range.lowerBound, range.upperBound)
                while lower < upper && isBlank(bytes[lower]) { lower += 1 }
                while upper > lower && isBlank(bytes[upper - 1]) { upper -= 1 }
                return lower..<upper
            }
            var start = 0
            var first = true
            while start < bytes.count {
                var end = start
                while end < bytes.count && !(bytes[end] == UInt8(ascii: "\r") && end + 1 < bytes.count && bytes[end + 1] == UInt8(ascii: "\n")) {
                    end += 1
                }
                defer { start = end + 2 }
                if first {
                    first = false
                    let prefix = Array("NATS/1.0".utf8)
                    guard end - start >= prefix.count, prefix.indices.allSatisfy({ bytes[start + $0] == prefix[$0] }) else {
                        throw Malformed(line: text(start..<min(end, bytes.count)))
                    }
                    let status = trimmed(start + prefix.count..<end)
                    guard !status.isEmpty else { continue }
                    var digits = status.lowerBound
                    while digits < status.upperBound && !isBlank(bytes[digits]) { digits += 1 }
                    message.status = Int(text(status.lowerBound..<digits))
                    let description = trimmed(digits..<status.upperBound)
                    message.statusDescription = description.isEmpty ? nil : text(description)
                    continue
                }
                guard end > start else { continue }
                guard let colon = (start..<end).first(where: { bytes[$0] == UInt8(ascii: ":") }) else {
                    throw Malformed(line: text(start..<end))
                }
                message.headers.append((text(start..<colon), text(trimmed(colon + 1..<end))))
            }
            if first { throw Malformed(line: "") }
        }
    }
}

/// What the client sends.
enum NATSClientOp {
    static func connect(_ options: [String: JSONValue], into buffer: inout ByteBuffer) throws {
        buffer.writeString("CONNECT ")
        buffer.writeBytes(try JSON.encode(JSONValue.object(options)))
        buffer.writeString("\r\n")
    }

    static func ping(into buffer: inout ByteBuffer) { buffer.writeString("PING\r\n") }
    static func pong(into buffer: inout ByteBuffer) { buffer.writeString("PONG\r\n") }

    static func sub(_ subject: String, queue: String?, sid: Int, into buffer: inout ByteBuffer) {
        buffer.writeString("SUB \(subject) \(queue.map { "\($0) " } ?? "")\(sid)\r\n")
    }

    static func unsub(sid: Int, into buffer: inout ByteBuffer) { buffer.writeString("UNSUB \(sid)\r\n") }

    /// `PUB`, or `HPUB` when there are headers.
    static func pub(_ subject: String, reply: String?, headers: [(name: String, value: String)], payload: ByteBuffer,
                    into buffer: inout ByteBuffer) {
        let replyPart = reply.map { "\($0) " } ?? ""
        if headers.isEmpty {
            buffer.writeString("PUB \(subject) \(replyPart)\(payload.readableBytes)\r\n")
        } else {
            var block = "NATS/1.0\r\n"
            for (name, value) in headers { block += "\(name): \(value)\r\n" }
            block += "\r\n"
            let headerSize = block.utf8.count
            buffer.writeString("HPUB \(subject) \(replyPart)\(headerSize) \(headerSize + payload.readableBytes)\r\n")
            buffer.writeString(block)
        }
        var payload = payload
        buffer.writeBuffer(&payload)
        buffer.writeString("\r\n")
    }
}

/// Subjects and tokens a client may send: no whitespace (it would split the protocol
/// line), not empty.
enum NATSSubject {
    static func isValid(_ subject: String) -> Bool {
        !subject.isEmpty && !subject.utf8.contains { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == 13 || $0 == 10 }
    }
}
