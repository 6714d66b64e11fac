import ArgumentParser
import Foundation

/// `tributary clients|combiners|models`: one resource list as a table or JSON.
struct ResourceList {
    let path: String
    let columns: [(header: String, key: String)]

    func run(_ options: ControllerOptions, json: Bool, limit: Int) async throws {
        let list = try await options.client.get(path, headers: ["X-Limit": "\(limit)"]) as? [String: Any] ?? [:]
        let rows = list["result"] as? [[String: Any]] ?? []
        if json {
            print(Output.json(list))
            return
        }
        print(Output.table(columns.map(\.header), rows.map { row in columns.map { Output.cell(row[$0.key]) } }))
        print("\(list["count"] ?? 0) in all")
    }
}

struct Clients: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List clients with their combiner and liveness.")
    @OptionGroup var options: ControllerOptions
    @Flag(help: "JSON output.") var json = false
    @Option(help: "At most this many rows.") var limit = 100

    func run() async throws {
        try await ResourceList(path: "/api/v1/clients/", columns: [
            ("CLIENT", "client_id"), ("STATUS", "status"), ("COMBINER", "combiner"), ("PREFERRED", "combiner_preferred"), ("LAST SEEN", "last_seen"),
        ]).run(options, json: json, limit: limit)
    }
}

struct Combiners: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List combiners with their addresses and liveness.")
    @OptionGroup var options: ControllerOptions
    @Flag(help: "JSON output.") var json = false
    @Option(help: "At most this many rows.") var limit = 100

    func run() async throws {
        try await ResourceList(path: "/api/v1/combiners/", columns: [
            ("NAME", "name"), ("STATUS", "status"), ("CLIENTS", "clients_online"), ("ADDRESS", "address"), ("LAST SEEN", "last_seen"),
        ]).run(options, json: json, limit: limit)
    }
}

struct Models: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List stored models, newest first.")
    @OptionGroup var options: ControllerOptions
    @Flag(help: "JSON output.") var json = false
    @Option(help: "At most this many rows.") var limit = 20

    func run() async throws {
        try await ResourceList(path: "/api/v1/models/", columns: [
            ("MODEL", "model_id"), ("NAME", "name"), ("ROUND", "round_number"), ("PARAMETERS", "parameter_count"), ("PARENT", "parent_model"),
        ]).run(options, json: json, limit: limit)
    }
}
