import Foundation

/// Ports on the loopback interface, as `msa up` and the system tests choose them.
public enum LoopbackPort {
    /// Whether nothing listens on `port` on 127.0.0.1: binding it (with `SO_REUSEADDR`,
    /// as servers bind) succeeds. A port can be taken between this check and its use;
    /// the check is for a clear early error, not a reservation.
    public static func isFree(_ port: Int) -> Bool {
        guard let fd = socket(boundTo: port) else { return false }
        close(fd)
        return true
    }

    /// A TCP socket bound to `port` on 127.0.0.1 with `SO_REUSEADDR` (as servers bind), or
    /// nil if the port is taken; the caller closes it.
    public static func socket(boundTo port: Int) -> Int32? {
        let fd = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard bound else {
            close(fd)
            return nil
        }
        return fd
    }
}
