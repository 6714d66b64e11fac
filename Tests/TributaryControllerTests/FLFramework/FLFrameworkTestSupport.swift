import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import TributaryController
import TributaryModel
import TributaryStore

/// Helpers for the FL Framework API suites: its base path, its error body, its uploads.
enum FL {
    static let base = FLFrameworkAPI.base

    /// `{"client_id": id}` registration.
    static func register(_ client: any TestClientProtocol, _ id: String) async throws {
        let r = try await client.post("\(base)/clients/register", json: "{\"client_id\": \"\(id)\", \"client_config\": {\"batch_size\": 8}}")
        #expect(r.status == .created, "register \(id): \(r.text)")
    }

    /// A multipart update: `model_file` (.npz) and `metrics` JSON.
    static func upload(_ client: any TestClientProtocol, _ id: String, _ model: Model, samples: Double?, path: String = "model/update",
                       bearer: String? = nil) async throws -> TestResponse {
        var metrics: [String: Any] = ["local_accuracy": 0.5, "local_loss": 1.25, "training_time": 2]
        if let samples { metrics["data_samples"] = samples }
        let form = Multipart(parts: [
            .init(name: "model_file", filename: "update.npz", bytes: try NPZ.encode(model)),
            .init(name: "metrics", bytes: Array(try JSONSerialization.data(withJSONObject: metrics)).map { $0 }),
        ])
        var headers = ["Content-Type": form.contentType]
        if let bearer { headers["Authorization"] = "Bearer \(bearer)" }
        return try await client.execute(uri: "\(base)/\(path)/\(id)", method: .post, headers: .init(headers.map { .init(name: .init($0.key)!, value: $0.value) }),
                                        body: .init(bytes: form.body))
    }

    /// Polls the training status until `condition` holds (bounded: 20 s).
    static func waitStatus(_ client: any TestClientProtocol, _ condition: ([String: Any]) -> Bool) async throws -> [String: Any] {
        for _ in 0..<200 {
            let status = try await client.get("\(base)/training/status").object()
            if condition(status) { return status }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("training status never reached the expected state")
        return [:]
    }
}

extension TestResponse {
    /// Checks the API's error body `{"error": {code, message, details, timestamp}}` and its code.
    func expectFLError(_ status: HTTPResponse.Status, _ code: String, mentioning text: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(self.status == status, "\(self.text)", sourceLocation: sourceLocation)
        let error = object(sourceLocation: sourceLocation)["error"] as? [String: Any] ?? [:]
        #expect(error["code"] as? String == code, "\(self.text)", sourceLocation: sourceLocation)
        #expect(error["message"] is String && error["details"] is String && error["timestamp"] is String, "\(self.text)", sourceLocation: sourceLocation)
        if let text { #expect((error["details"] as? String ?? "").contains(text), "'\(error["details"] ?? "")' should mention \(text)", sourceLocation: sourceLocation) }
    }
}
