// A service imports only `Chassis` and its system's `Contracts`; the vocabulary it needs
// from the chassis's own dependencies (routers, loggers) comes through here.
@_exported import Hummingbird
@_exported import Logging
