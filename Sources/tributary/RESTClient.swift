import AsyncHTTPClient
import Foundation
import NIOCore
import TributaryClient

/// A minimal JSON client for the controller's REST API.
struct RESTClient: Sendable {
    struct Failure: Error, CustomStringConvertible {
        let status: Int
        let message: String
        var description: String { status == 0 ? message : "HTTP \(status): \(message)" }
    }

    let baseURL: URL
    var token: String? = nil
    /// The CA an HTTPS controller's certificate is checked against (nil: the system's roots).
    var caPEM: String? = nil

    func get(_ path: String, headers: [String: String] = [:]) async throws -> Any {
        try await send("GET", path, body: nil, contentType: nil, headers: headers)
    }

    func post(_ path: String, json: [String: Any]) async throws -> Any {
        try await send("POST", path, body: try JSONSerialization.data(withJSONObject: json), contentType: "application/json")
    }

    /// A file uploaded as multipart/form-data, streamed from disk (`MultipartFileBody`).
    func upload(_ path: String, file: URL, name: String?) async throws -> Any {
        var fields: [(String, String)] = []
        if let name { fields.append(("name", name)) }
        let body = try MultipartFileBody(file: file, fields: fields)
        return Self.json(try await perform("POST", path, body: body.requestBody, contentType: body.contentType, headers: [:]))
    }

    /// A multipart/form-data POST: text `fields`, and a `file` part when given.
    func postForm(_ path: String, fields: [(String, String)], file: (name: String, data: Data)?) async throws -> Any {
        let boundary = "tributary-\(UUID().uuidString)"
        var body = Data()
        func part(_ header: String, _ content: Data) {
            body.append(Data("--\(boundary)\r\n\(header)\r\n\r\n".utf8))
            body.append(content)
            body.append(Data("\r\n".utf8))
        }
        if let file { part("Content-Disposition: form-data; name=\"file\"; filename=\"\(file.name)\"\r\nContent-Type: application/octet-stream", file.data) }
        for (name, value) in fields { part("Content-Disposition: form-data; name=\"\(name)\"", Data(value.utf8)) }
        body.append(Data("--\(boundary)--\r\n".utf8))
        return try await send("POST", path, body: body, contentType: "multipart/form-data; boundary=\(boundary)")
    }

    func put(_ path: String, json: [String: Any]) async throws -> Any {
        try await send("PUT", path, body: try JSONSerialization.data(withJSONObject: json), contentType: "application/json")
    }

    /// A download: the body's bytes.
    func bytes(_ path: String) async throws -> Data {
        try await perform("GET", path, body: nil, contentType: nil, headers: [:])
    }

    private func send(_ method: String, _ path: String, body: Data?, contentType: String?, headers: [String: String] = [:]) async throws -> Any {
        Self.json(try await perform(method, path, body: body.map { .bytes(ByteBuffer(bytes: $0)) }, contentType: contentType, headers: headers))
    }

    private static func json(_ data: Data) -> Any {
        (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) ?? [:]
    }

    private func perform(_ method: String, _ path: String, body: HTTPClientRequest.Body?, contentType: String?, headers: [String: String]) async throws -> Data {
        guard let url = URL(string: path, relativeTo: baseURL) else { throw Failure(status: 0, message: "bad path \(path)") }
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .init(rawValue: method)
        if let body { request.body = body }
        if let contentType { request.headers.replaceOrAdd(name: "Content-Type", value: contentType) }
        if let token { request.headers.replaceOrAdd(name: "Authorization", value: "Bearer \(token)") }
        for (key, value) in headers { request.headers.replaceOrAdd(name: key, value: value) }
        let data: Data
        let response: HTTPClientResponse
        do {
            response = try await TrustedHTTPClient.client(trusting: caPEM).execute(request, timeout: .seconds(300))
            data = Data(try await response.body.collect(upTo: Int.max).readableBytesView)
        } catch {
            throw Failure(status: 0, message: "cannot reach the controller at \(baseURL.absoluteString): \(error)")
        }
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            let message = (object as? [String: Any])?["message"] as? String ?? String(decoding: data.prefix(300), as: UTF8.self)
            throw Failure(status: status, message: message)
        }
        return data
    }
}
