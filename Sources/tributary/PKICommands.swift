import ArgumentParser
import Foundation
import TributaryWire

/// `tributary pki init | issue`: a throw-away or long-lived CA for a network, and a key and
/// certificate per peer (`PKI`). Keys are written with mode 0600; no OpenSSL involved.
struct PKICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pki", abstract: "Provision a CA and per-peer certificates for TLS.", subcommands: [PKIInit.self, PKIIssue.self])

    static func write(_ text: String, to url: URL, secret: Bool) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? FileManager.default.removeItem(at: url)
        guard FileManager.default.createFile(atPath: url.path, contents: Data(text.utf8), attributes: [.posixPermissions: secret ? 0o600 : 0o644]) else {
            throw ValidationError("cannot write \(url.path)")
        }
    }
}

struct PKIInit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Make a CA: DIR/ca.pem (share it) and DIR/ca.key (keep it).")
    @Option(help: "Directory for the CA's files.") var dir: String
    @Option(help: "The CA's common name.") var name = "Tributary CA"
    @Option(help: "Validity in years.") var years = 10
    @Flag(help: "Replace an existing CA in DIR.") var force = false

    func run() async throws {
        let base = URL(fileURLWithPath: dir)
        guard force || !FileManager.default.fileExists(atPath: base.appendingPathComponent("ca.key").path) else {
            throw ValidationError("\(base.path)/ca.key exists; --force replaces it (every certificate it issued stops being trusted)")
        }
        let ca = try PKI.makeCA(name: name, years: years)
        try PKICommand.write(ca.certificatePEM, to: base.appendingPathComponent("ca.pem"), secret: false)
        try PKICommand.write(ca.privateKeyPEM, to: base.appendingPathComponent("ca.key"), secret: true)
        print("ca: \(base.appendingPathComponent("ca.pem").path)")
    }
}

struct PKIIssue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "issue", abstract: "Issue DIR/NAME.pem and DIR/NAME.key for one peer, signed by the CA in DIR.")
    @Option(help: "Directory holding ca.pem and ca.key (and the new files).") var dir: String
    @Option(help: "controller, combiner or client.") var role: String
    @Option(help: "The peer's name: combiner name, client id, or the controller's.") var name: String
    @Option(help: "A DNS name or IPv4 address the peer is reached at (repeatable; localhost and 127.0.0.1 are always in).") var host: [String] = []
    @Option(help: "Validity in days.") var days = 365
    @Option(help: "Write the files here instead of DIR.") var out: String?

    func run() async throws {
        guard let role = PKI.Role(rawValue: role) else { throw ValidationError("--role must be controller, combiner or client") }
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw ValidationError("--name must be letters, digits, '-', '_' or '.'")
        }
        let base = URL(fileURLWithPath: dir)
        let issued = try PKI.issue(role: role, name: name, hosts: host, days: days,
                                   caCertificatePEM: try String(contentsOf: base.appendingPathComponent("ca.pem"), encoding: .utf8),
                                   caKeyPEM: try String(contentsOf: base.appendingPathComponent("ca.key"), encoding: .utf8))
        let target = out.map { URL(fileURLWithPath: $0) } ?? base
        try PKICommand.write(issued.certificatePEM, to: target.appendingPathComponent("\(name).pem"), secret: false)
        try PKICommand.write(issued.privateKeyPEM, to: target.appendingPathComponent("\(name).key"), secret: true)
        print("cert: \(target.appendingPathComponent("\(name).pem").path)\nkey: \(target.appendingPathComponent("\(name).key").path)")
    }
}
