import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import TributaryController
import TributaryStore

// Helpers shared by the per-group route suites (on top of ControllerTestSupport.swift).

extension TestClientProtocol {
    /// Any method with an optional JSON body (Content-Type set only when there is a body).
    func send(_ method: HTTPRequest.Method, _ uri: String, json: String? = nil, headers: [String: String] = [:]) async throws -> TestResponse {
        var fields = HTTPFields()
        for (name, value) in headers {
            if let field = HTTPField.Name(name) { fields[field] = value }
        }
        if json != nil { fields[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: fields, body: json.map { ByteBuffer(string: $0) })
    }

    func patch(_ uri: String, json: String) async throws -> TestResponse { try await send(.patch, uri, json: json) }
    func put(_ uri: String, json: String) async throws -> TestResponse { try await send(.put, uri, json: json) }
    func delete(_ uri: String) async throws -> TestResponse { try await send(.delete, uri) }
}

extension Fixtures {
    /// A fixed instant (2026-01-01T00:00:00Z) plus `seconds`, for rows whose order or time matters.
    static func time(_ seconds: Double) -> Date {
        Date(timeIntervalSince1970: 1_767_225_600 + seconds)
    }

    /// Saves a client row directly (status `available`, never dialled).
    static func saveClient(_ service: ControllerService, _ id: String, name: String? = nil, combiner: String = "comb-a") throws {
        try service.store.save(ClientRecord(clientId: id, name: name ?? id, combiner: combiner, combinerPreferred: nil, ip: nil, package: nil))
    }

    /// The id of a registered combiner, by name.
    static func combinerId(_ service: ControllerService, _ name: String) throws -> String {
        try #require(try service.store.fetchAll(CombinerRecord.self, where: "name", equals: name).first).combinerId
    }
}

extension TestResponse {
    /// Checks a 400 whose JSON message names `field`.
    func expectBadRequest(naming field: String, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(status == .badRequest, "\(comment?.description ?? "") \(text)", sourceLocation: sourceLocation)
        let message = message(sourceLocation: sourceLocation)
        #expect(message.contains(field), "'\(message)' should name \(field)", sourceLocation: sourceLocation)
    }

    /// Checks a 404 whose JSON message names `id`.
    func expectNotFound(naming id: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(status == .notFound, "\(text)", sourceLocation: sourceLocation)
        let message = message(sourceLocation: sourceLocation)
        #expect(message.contains(id), "'\(message)' should name \(id)", sourceLocation: sourceLocation)
    }
}
