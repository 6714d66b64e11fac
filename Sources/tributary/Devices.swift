import ArgumentParser
import Foundation

/// `tributary devices …`: the device API from the command line — org keys, registration,
/// listing — and a swarm of logical HTTP devices for load and benchmarks.
struct Devices: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "HTTP devices: org keys, registration, listing, and a device swarm.",
        subcommands: [DeviceList.self, DeviceKey.self, DeviceRegister.self, DeviceSwarm.self])

    static let base = "/device-api/api/v1"
}

struct DeviceList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List an org's devices with their liveness.")
    @OptionGroup var options: ControllerOptions
    @Option(help: "The org.") var org = "default"
    @Option(help: "An org key (default: --token, an admin token).") var orgKey: String?
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        var client = try options.client
        if let orgKey { client.token = orgKey }
        let list = try await client.get("\(Devices.base)/devices?org_id=\(org)&limit=1000") as? [String: Any] ?? [:]
        if json { return print(Output.json(list)) }
        let rows = (list["devices"] as? [[String: Any]] ?? []).map { d in ["id", "device_identifier", "platform", "status", "last_seen_at"].map { Output.cell(d[$0]) } }
        print(Output.table(["ID", "DEVICE", "PLATFORM", "STATUS", "LAST SEEN"], rows))
        print("\(list["total"] ?? 0) in all")
    }
}

struct DeviceKey: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "key", abstract: "Create an org key (printed once) that registers devices and acts for them.")
    @OptionGroup var options: ControllerOptions
    @Option(help: "The org the key belongs to.") var org = "default"
    @Option(help: "A name for the key.") var name = "cli"

    func run() async throws {
        let created = try await options.client.post("\(Devices.base)/api-keys", json: ["org_id": org, "name": name]) as? [String: Any] ?? [:]
        print(created["api_key"] as? String ?? Output.json(created))
    }
}

struct DeviceRegister: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "register", abstract: "Register a device; prints its server id and its API key (shown once).")
    @OptionGroup var options: ControllerOptions
    @Option(help: "An org key.") var orgKey: String
    @Option(help: "The device's own identifier.") var id: String
    @Option(help: "python, ios, android, edge, browser or node.") var platform = "edge"

    func run() async throws {
        var client = try options.client
        client.token = orgKey
        let device = try await client.post("\(Devices.base)/devices/register", json: ["device_identifier": id, "platform": platform]) as? [String: Any] ?? [:]
        print("id: \(device["id"] ?? "?")\napi_key: \(device["api_key"] ?? "?")")
    }
}

/// Many logical devices in one process, like `tributary-client --count` for nng: each
/// registers under its own identifier and key and heartbeats; whenever a round is active, each
/// selected device downloads the round's global model (once for the whole swarm) and uploads
/// it back unchanged (a no-op trainer, as the nng benchmark's) with `--examples` samples.
struct DeviceSwarm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "swarm", abstract: "Run N logical HTTP devices that answer every device round.")
    @OptionGroup var options: ControllerOptions
    @Option(help: "Number of devices.") var count = 100
    @Option(help: "The org (an org key is created for it unless --org-key is given).") var org = "swarm"
    @Option(help: "An existing org key.") var orgKey: String?
    @Option(help: "Device identifiers are <prefix>-<i> (default: swarm-<random>).") var prefix: String?
    @Option(help: "Samples each update reports.") var examples = 100
    @Option(help: "Stop after answering this many rounds (0: run until interrupted).") var rounds = 0
    @Option(help: "Requests in flight at once.") var concurrency = 32
    @Option(help: "Seconds between polls for an active round.") var poll = 0.05
    @Option(help: "Seconds between heartbeats of every device.") var heartbeat = 10.0

    struct Member: Sendable {
        var id: String
        var client: RESTClient
    }

    func run() async throws {
        let base = try options.client
        var keyed = base
        if let orgKey { keyed.token = orgKey } else {
            keyed.token = (try await base.post("\(Devices.base)/api-keys", json: ["org_id": org, "name": "swarm"]) as? [String: Any])?["api_key"] as? String
        }
        let name = prefix ?? "swarm-\(UUID().uuidString.prefix(6).lowercased())"
        let orgClient = keyed
        let members = try await Self.each(0..<count, concurrency: concurrency) { i -> Member in
            let device = try await orgClient.post("\(Devices.base)/devices/register", json: ["device_identifier": "\(name)-\(i)", "platform": "edge"]) as? [String: Any] ?? [:]
            var client = base
            client.token = device["api_key"] as? String
            return Member(id: device["id"] as? String ?? "", client: client)
        }
        try await beat(members)
        print("swarm: \(members.count) devices registered as \(name)-0…\(count - 1)")
        var answered = 0, lastRound: String?, lastBeat = Date()
        while rounds == 0 || answered < rounds {
            if Date().timeIntervalSince(lastBeat) >= heartbeat { try await beat(members); lastBeat = Date() }
            let current = try? await members[0].client.get("\(Devices.base)/training/rounds/current") as? [String: Any]
            guard let current, current["status"] as? String == "active", let id = current["id"] as? String, id != lastRound,
                  let path = current["global_model_path"] as? String else {
                try await Task.sleep(for: .seconds(poll))
                continue
            }
            let model = try await members[0].client.bytes(path)
            let accepted = try await Self.each(members.indices, concurrency: concurrency) { i -> Bool in
                do {
                    _ = try await members[i].client.postForm("\(Devices.base)/training/rounds/\(id)/updates", fields: [("num_samples", "\(examples)")], file: ("update.npz", model))
                    return true
                } catch let failure as RESTClient.Failure where failure.status == 409 { return false }
            }
            lastRound = id
            answered += 1
            print("swarm: round \(id): \(accepted.filter { $0 }.count) of \(members.count) devices sent an update")
        }
    }

    private func beat(_ members: [Member]) async throws {
        _ = try await Self.each(members.indices, concurrency: concurrency) { i -> Bool in
            _ = try await members[i].client.put("\(Devices.base)/devices/\(members[i].id)/heartbeat", json: ["status": "active"])
            return true
        }
    }

    /// `body` over `items` with at most `concurrency` in flight; results in order.
    static func each<C: Collection & Sendable, T: Sendable>(_ items: C, concurrency: Int, _ body: @escaping @Sendable (C.Element) async throws -> T) async throws -> [T]
    where C.Element: Sendable {
        try await withThrowingTaskGroup(of: (Int, T).self) { group in
            var results = [T?](repeating: nil, count: items.count), next = items.makeIterator(), index = 0
            func add() -> Bool {
                guard let item = next.next() else { return false }
                let at = index
                index += 1
                group.addTask { (at, try await body(item)) }
                return true
            }
            for _ in 0..<max(1, concurrency) where !add() { break }
            while let (at, value) = try await group.next() {
                results[at] = value
                _ = add()
            }
            return results.compactMap { $0 }
        }
    }
}
