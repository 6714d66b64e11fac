import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The one REST call a client makes: `POST /api/v1/clients/add`, which says which combiner
/// to dial. Needs no ingress port on the client.
struct ControllerAPI: Sendable {
    struct Assignment: Decodable, Sendable {
        var combiner: String
        var combinerAddress: String
        var combinerPublishAddress: String
        /// This client's peer token for its combiner, when the network requires peer tokens.
        var peerToken: String?
        enum CodingKeys: String, CodingKey {
            case combiner, combinerAddress = "combiner_address", combinerPublishAddress = "combiner_publish_address", peerToken = "peer_token"
        }
    }

    struct APIFailure: Error, CustomStringConvertible {
        let status: Int
        let message: String
        var description: String { "controller answered \(status): \(message)" }
    }

    let baseURL: URL
    /// Bearer token (role client or admin) when the controller requires one.
    var token: String? = nil

    func addClient(id: String, name: String, preferredCombiner: String?) async throws -> Assignment {
        var request = URLRequest(url: baseURL.appendingPathComponent("api/v1/clients/add"))
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        request.timeoutInterval = 15
        var body: [String: String] = ["client_id": id, "name": name, "package": "local"]
        if let preferredCombiner { body["combiner_preferred"] = preferredCombiner }
        request.httpBody = try JSONEncoder().encode(body)
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 200 else {
            let message = (try? JSONDecoder().decode([String: String].self, from: data))?["message"] ?? String(decoding: data.prefix(200), as: UTF8.self)
            throw APIFailure(status: status, message: message)
        }
        return try JSONDecoder().decode(Assignment.self, from: data)
    }
}
