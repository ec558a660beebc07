import Foundation
import GRDB

/// Opens a SQLite file that other processes may be opening at the same moment: the
/// processes of `msa up` start together and share the event log, and replicas of a
/// service share its store.
///
/// A fresh file races twice. Switching it to WAL needs the file alone, and GRDB's
/// migrator reads which migrations are applied before it takes the write lock, so two
/// openers can both run the first migration — the second then fails on a table that
/// already exists. The loser of either race fails having changed nothing (a migration
/// runs in a transaction) and succeeds when it tries again, now seeing the winner's
/// work. Found as a process of `msa up` exiting at start ("table settings already
/// exists") and restarted by the supervisor.
enum SharedDatabaseFile {
    static func open(path: String, configuration: Configuration, migrator: DatabaseMigrator) throws -> DatabasePool {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        var attempt = 0
        while true {
            do {
                let pool = try DatabasePool(path: path, configuration: configuration)
                try migrator.migrate(pool)
                return pool
            } catch is DatabaseError where attempt < 40 {
                attempt += 1
                Thread.sleep(forTimeInterval: min(0.005 * Double(attempt), 0.05))
            }
        }
    }
}
