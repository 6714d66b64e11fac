import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
@testable import TributaryController
import TributaryModel
import TributaryStore
import TributaryWire

/// A controller in a fresh temporary data directory, with nng on free ports (`:0`), driven
/// through its router without an HTTP socket. The sockets are closed and the directory is
/// removed when `body` returns or throws.
func withController(
    jwtSecret: String? = nil,
    configure: (inout ControllerConfiguration) -> Void = { _ in },
    _ body: @Sendable (_ service: ControllerService, _ client: any TestClientProtocol) async throws -> Void
) async throws {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("tributary-controller-tests-\(UUID().uuidString)", isDirectory: true)
    var configuration = ControllerConfiguration(dataDirectory: directory)
    configuration.replyAddress = "tcp://127.0.0.1:0"
    configuration.publishAddress = "tcp://127.0.0.1:0"
    configuration.jwtSecret = jwtSecret
    configure(&configuration)
    let logger = Logger(label: "tributary.controller.tests") { _ in SwiftLogNoOpLogHandler() }
    let service = try ControllerService(configuration: configuration, logger: logger)
    defer {
        service.shutdown()
        try? FileManager.default.removeItem(at: directory)
    }
    let app = Application(router: try service.makeRouter())
    try await app.test(.router) { client in
        try await body(service, client)
    }
}

// MARK: - Fixtures

enum Fixtures {
    /// A small float32 model whose values depend on `seed`.
    static func model(seed: Float = 1) throws -> Model {
        try Model(float32: [
            (name: "dense/kernel", shape: [2, 3], values: (0..<6).map { Float($0) * seed + 0.25 }),
            (name: "dense/bias", shape: [3], values: [seed, -seed, 0.5]),
        ])
    }

    /// Stores a model directly and returns its id.
    static func storeModel(_ service: ControllerService, seed: Float = 1, name: String? = nil) throws -> String {
        try service.store.storeModel(model(seed: seed), parent: nil, sessionId: nil, roundNumber: nil, name: name).modelId
    }

    /// Registers a combiner by name with made-up (never dialled) nng addresses.
    static func registerCombiner(_ service: ControllerService, _ name: String, port: Int) async throws {
        _ = try await service.registry.register(CombinerRegister(
            name: name, replyAddress: "tcp://127.0.0.1:\(port)", publishAddress: "tcp://127.0.0.1:\(port + 1)"))
    }

    static func heartbeat(_ service: ControllerService, _ name: String, clients: [String]) async throws {
        let known = try await service.registry.heartbeat(CombinerHeartbeat(name: name, clients: clients))
        #expect(known, "heartbeat from unregistered combiner \(name)")
    }
}

// MARK: - Requests

extension TestClientProtocol {
    func get(_ uri: String, headers: [String: String] = [:]) async throws -> TestResponse {
        try await execute(uri: uri, method: .get, headers: fields(headers))
    }

    func post(_ uri: String, json: String, headers: [String: String] = [:]) async throws -> TestResponse {
        var all = headers
        all["Content-Type"] = "application/json"
        return try await execute(uri: uri, method: .post, headers: fields(all), body: ByteBuffer(string: json))
    }

    func post(_ uri: String, bytes: [UInt8], contentType: String) async throws -> TestResponse {
        try await execute(uri: uri, method: .post, headers: fields(["Content-Type": contentType]), body: ByteBuffer(bytes: bytes))
    }

    private func fields(_ headers: [String: String]) -> HTTPFields {
        var result = HTTPFields()
        for (name, value) in headers {
            if let field = HTTPField.Name(name) { result[field] = value }
        }
        return result
    }
}

/// A `multipart/form-data` body: each part is a form field, with a file name for files.
struct Multipart {
    struct Part {
        var name: String
        var filename: String?
        var bytes: [UInt8]
    }

    let boundary = "----tributary-test-\(UUID().uuidString)"
    var parts: [Part]

    var contentType: String { "multipart/form-data; boundary=\(boundary)" }

    var body: [UInt8] {
        var out: [UInt8] = []
        for part in parts {
            var head = "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(part.name)\""
            if let filename = part.filename {
                head += "; filename=\"\(filename)\"\r\nContent-Type: application/octet-stream"
            }
            head += "\r\n\r\n"
            out += Array(head.utf8) + part.bytes + Array("\r\n".utf8)
        }
        out += Array("--\(boundary)--\r\n".utf8)
        return out
    }
}

// MARK: - Responses

extension TestResponse {
    var bytes: [UInt8] { Array(body.readableBytesView) }
    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// The body as JSON (any top-level value); records an issue if it is not JSON.
    func json(sourceLocation: SourceLocation = #_sourceLocation) -> Any? {
        let value = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        if value == nil { Issue.record("body is not JSON: \(text)", sourceLocation: sourceLocation) }
        return value
    }

    /// The body as a JSON object; an empty object (and an issue) otherwise.
    func object(sourceLocation: SourceLocation = #_sourceLocation) -> [String: Any] {
        guard let object = json(sourceLocation: sourceLocation) as? [String: Any] else {
            Issue.record("body is not a JSON object: \(text)", sourceLocation: sourceLocation)
            return [:]
        }
        return object
    }

    /// The `message` of an error body, checking that it is JSON `{"message": String}`.
    func message(sourceLocation: SourceLocation = #_sourceLocation) -> String {
        #expect(headers[.contentType] == "application/json", "content type", sourceLocation: sourceLocation)
        guard let message = object(sourceLocation: sourceLocation)["message"] as? String else {
            Issue.record("no string 'message' in \(text)", sourceLocation: sourceLocation)
            return ""
        }
        return message
    }

    /// A `{"count", "result"}` list body: the count and the rows.
    func list(sourceLocation: SourceLocation = #_sourceLocation) -> (count: Int, rows: [[String: Any]]) {
        let object = object(sourceLocation: sourceLocation)
        #expect(Set(object.keys) == ["count", "result"], "list keys of \(text)", sourceLocation: sourceLocation)
        let count = intValue(object["count"]) ?? -1
        let rows = object["result"] as? [[String: Any]] ?? []
        return (count, rows)
    }

    /// The values of `key` in a list body's rows, in order.
    func listed(_ key: String, sourceLocation: SourceLocation = #_sourceLocation) -> [String] {
        list(sourceLocation: sourceLocation).rows.map { row in
            switch row[key] {
            case let s as String: s
            case let v?: intValue(v).map(String.init) ?? "\(v)"
            case nil: "<missing>"
            }
        }
    }

    /// A bare JSON integer body (`/count`).
    func integer(sourceLocation: SourceLocation = #_sourceLocation) -> Int? {
        guard let n = intValue(json(sourceLocation: sourceLocation)) else {
            Issue.record("body is not a bare integer: \(text)", sourceLocation: sourceLocation)
            return nil
        }
        return n
    }
}

/// An integer from a JSONSerialization value (Int or NSNumber, depending on the platform).
func intValue(_ value: Any?) -> Int? {
    if let n = value as? Int { return n }
    if let n = value as? NSNumber, Double(n.intValue) == n.doubleValue { return n.intValue }
    return nil
}
