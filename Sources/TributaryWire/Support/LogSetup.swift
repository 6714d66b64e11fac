import Foundation
import Logging

/// One logging setup for every executable: one line per event on stderr, at `level`, as text
/// (swift-log's stream handler) or as JSON objects for log collectors.
public enum LogSetup {
    public enum Format: String, CaseIterable, Sendable {
        case text, json
    }

    public static func bootstrap(label: String, level: Logger.Level, format: Format = .text) -> Logger {
        LoggingSystem.bootstrap { name in
            switch format {
            case .text:
                var handler = StreamLogHandler.standardError(label: name)
                handler.logLevel = level
                return handler
            case .json:
                return JSONLogHandler(label: name, logLevel: level)
            }
        }
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}

/// `{"timestamp", "level", "label", "message", "source", ...metadata}` per line on stderr.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    init(label: String, logLevel: Logger.Level) {
        self.label = label
        self.logLevel = logLevel
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let level = event.level, message = event.message, extra = event.metadata, source = event.source
        var object: [String: Any] = [
            "timestamp": ISO8601DateFormatter().string(from: Date()), "level": level.rawValue, "label": label,
            "message": message.description, "source": source,
        ]
        for (key, value) in metadata.merging(extra ?? [:], uniquingKeysWith: { _, new in new }) {
            object[key] = "\(value)"
        }
        if let error = event.error { object["error"] = "\(error)" }
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        data.append(0x0A)
        FileHandle.standardError.write(data)
    }
}
