import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import TributaryController
import TributaryStore

@Suite("Compute packages and the active helper")
struct PackageHelperRouteTests {
    /// Two SHA-256 test vectors, as package contents.
    static let abc = (bytes: Array("abc".utf8), sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    static let fox = (bytes: Array("The quick brown fox jumps over the lazy dog".utf8),
                      sha256: "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592")

    static func upload(_ client: any TestClientProtocol, file: String, bytes: [UInt8], fields: [String: String] = [:]) async throws -> TestResponse {
        var form = Multipart(parts: [.init(name: "file", filename: file, bytes: bytes)])
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) { form.parts.append(.init(name: name, bytes: Array(value.utf8))) }
        return try await client.post("/api/v1/packages/", bytes: form.body, contentType: form.contentType)
    }

    @Test("Multipart POST /packages stores the file and makes it active; download and checksum serve it")
    func uploadActivateDownload() async throws {
        try await withController { _, client in
            let first = try await Self.upload(client, file: "mnist.tar.gz", bytes: Self.abc.bytes,
                                              fields: ["name": "mnist", "description": "digits", "helper": "numpyhelper"])
            #expect(first.status == .ok, "\(first.text)")
            #expect(first.message() == "Package uploaded")
            let active = try await client.get("/api/v1/packages/active")
            #expect(active.status == .ok)
            let package = active.object()
            let firstId = try #require(package["package_id"] as? String)
            #expect(package["name"] as? String == "mnist")
            #expect(package["description"] as? String == "digits")
            #expect(package["helper"] as? String == "numpyhelper")
            #expect(package["file_name"] as? String == "mnist.tar.gz")
            #expect((package["storage_file_name"] as? String)?.hasSuffix(".tar.gz") == true)
            #expect(package["checksum"] as? String == Self.abc.sha256)
            #expect(package["active"] as? Bool == true)

            // A second upload (no name: the file name; no helper: the active helper) takes over.
            let second = try await Self.upload(client, file: "fox.zip", bytes: Self.fox.bytes)
            #expect(second.status == .ok)
            let now = try await client.get("/api/v1/packages/active").object()
            #expect(now["name"] as? String == "fox.zip")
            #expect(now["helper"] as? String == "numpyhelper")
            #expect(try await client.get("/api/v1/packages/count?active=true").integer() == 1)
            #expect(try await client.get("/api/v1/packages/?active=false").listed("package_id") == [firstId])
            #expect(try await client.get("/api/v1/packages/\(firstId)").object()["active"] as? Bool == false)

            let download = try await client.get("/api/v1/packages/download")
            #expect(download.status == .ok)
            #expect(download.bytes == Self.fox.bytes)
            #expect(download.headers[.contentDisposition]?.contains("fox.zip") == true)
            #expect(try await client.get("/api/v1/packages/download?name=mnist").bytes == Self.abc.bytes)
            let checksum = try await client.get("/api/v1/packages/checksum")
            #expect(checksum.object()["checksum"] as? String == Self.fox.sha256)
            #expect(try await client.get("/api/v1/packages/checksum?name=mnist").object()["checksum"] as? String == Self.abc.sha256)
            try await client.get("/api/v1/packages/download?name=ghost").expectNotFound(naming: "ghost")
            try await client.get("/api/v1/packages/checksum?name=ghost").expectNotFound(naming: "ghost")
            try await client.get("/api/v1/packages/ghost-package").expectNotFound(naming: "ghost-package")
        }
    }

    @Test("PUT /packages/active switches by id (or package_id); DELETE leaves none active")
    func setAndClearActive() async throws {
        try await withController { _, client in
            #expect(try await Self.upload(client, file: "a.tar", bytes: Self.abc.bytes, fields: ["name": "a"]).status == .ok)
            #expect(try await Self.upload(client, file: "b.tar", bytes: Self.fox.bytes, fields: ["name": "b"]).status == .ok)
            let ids = Dictionary(uniqueKeysWithValues: try await client.get("/api/v1/packages/").list().rows.map {
                ($0["name"] as? String ?? "", $0["package_id"] as? String ?? "")
            })
            let a = try #require(ids["a"]), b = try #require(ids["b"])
            for (body, expected) in [("{\"id\": \"\(a)\"}", a), ("{\"package_id\": \"\(b)\"}", b)] {
                let response = try await client.put("/api/v1/packages/active", json: body)
                #expect(response.status == .ok, "\(body): \(response.text)")
                #expect(response.message() == "Active package set")
                #expect(try await client.get("/api/v1/packages/active").object()["package_id"] as? String == expected)
            }
            try await client.put("/api/v1/packages/active", json: "{\"id\": \"ghost\"}").expectNotFound(naming: "ghost")
            try await client.put("/api/v1/packages/active", json: "{}").expectBadRequest(naming: "id")
            try await client.put("/api/v1/packages/active", json: "{\"id\": 7}").expectBadRequest(naming: "id")
            #expect(try await client.get("/api/v1/packages/active").object()["package_id"] as? String == b)

            let deleted = try await client.delete("/api/v1/packages/active")
            #expect(deleted.status == .ok)
            #expect(deleted.message() == "Active package deleted")
            for path in ["/api/v1/packages/active", "/api/v1/packages/download", "/api/v1/packages/checksum"] {
                let response = try await client.get(path)
                #expect(response.status == .notFound, "\(path)")
                #expect(response.message().contains("no package is active"), "\(path)")
            }
            #expect(try await client.delete("/api/v1/packages/active").status == .notFound)
            #expect(try await client.get("/api/v1/packages/count").integer() == 2, "deactivated, not deleted")
            #expect(try await client.get("/api/v1/clients/config").object()["checksum"] is NSNull)
        }
    }

    @Test("A bad package upload is a 400 and stores nothing", arguments: [
        ("notes.txt", "file", [String: String]()), ("pkg.tar.gz", "Helper", ["helper": "torchhelper"]),
    ])
    func uploadRefused(file: String, field: String, fields: [String: String]) async throws {
        try await withController { _, client in
            try await Self.upload(client, file: file, bytes: Self.abc.bytes, fields: fields).expectBadRequest(naming: field, "\(file)")
            let noFile = Multipart(parts: [.init(name: "name", bytes: Array("x".utf8))])
            try await client.post("/api/v1/packages", bytes: noFile.body, contentType: noFile.contentType).expectBadRequest(naming: "'file'")
            #expect(try await client.get("/api/v1/packages/count").integer() == 0)
        }
    }

    @Test("GET /helpers/active is a bare string (numpyhelper by default); PUT sets it; packages default to it")
    func helpers() async throws {
        try await withController { _, client in
            let initial = try await client.get("/api/v1/helpers/active")
            #expect(initial.status == .ok)
            #expect(initial.json() as? String == "numpyhelper")
            for helper in ["binaryhelper", "androidhelper", "numpyhelper", "binaryhelper"] {
                let response = try await client.put("/api/v1/helpers/active", json: "{\"helper\": \"\(helper)\"}")
                #expect(response.status == .ok, "\(helper): \(response.text)")
                #expect(response.object()["message"] as? String == "Active helper set")
                #expect(response.object()["active_helper"] as? String == helper)
                #expect(try await client.get("/api/v1/helpers/active").json() as? String == helper)
            }
            #expect(try await Self.upload(client, file: "p.tgz", bytes: Self.abc.bytes).status == .ok)
            #expect(try await client.get("/api/v1/packages/active").object()["helper"] as? String == "binaryhelper")
        }
    }

    @Test("PUT /helpers/active with anything but the three helpers is a 400 with FEDn's message", arguments: [
        "{\"helper\": \"torchhelper\"}", "{\"helper\": 1}", "{}", "{\"helper\": \"\"}", "not json",
    ])
    func helperRefused(body: String) async throws {
        try await withController { _, client in
            let response = try await client.put("/api/v1/helpers/active", json: body)
            #expect(response.status == .badRequest)
            let message = response.message()
            switch body {
            case "not json": #expect(message.contains("JSON"))
            case "{\"helper\": 1}": #expect(message.contains("'helper'"))
            default: #expect(message == "Helper is required to be either 'numpyhelper', 'binaryhelper' or 'androidhelper'", "\(body)")
            }
            #expect(try await client.get("/api/v1/helpers/active").json() as? String == "numpyhelper")
        }
    }
}
