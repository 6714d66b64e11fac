import Foundation
import Logging
import TributaryStore
import TributaryWire

/// The controller's live view of the network: combiners and the clients they report, with
/// liveness from heartbeats. Rows in the store follow every status change, so the REST API
/// shows the real state; heartbeats themselves stay in memory.
actor NetworkRegistry {
    private struct LiveCombiner {
        var record: CombinerRecord
        var lastHeartbeat: ContinuousClock.Instant
        var clients: Set<String>
        var staleClients: Set<String> = []
    }

    private let store: Store
    private let heartbeatInterval: Duration
    private let logger: Logger
    private var combiners: [String: LiveCombiner] = [:]

    init(store: Store, heartbeatInterval: Duration, logger: Logger) {
        self.store = store
        self.heartbeatInterval = heartbeatInterval
        self.logger = logger
    }

    /// Registers a combiner; idempotent by name — a restarted combiner takes its old row.
    func register(_ request: CombinerRegister) throws -> CombinerRecord {
        var record = try store.fetchAll(CombinerRecord.self, where: "name", equals: request.name).first
            ?? CombinerRecord(combinerId: Store.newId(), name: request.name, address: request.replyAddress, publishAddress: request.publishAddress)
        record.address = request.replyAddress
        record.publishAddress = request.publishAddress
        record.status = .online
        record.lastSeen = Date()
        record.updatedAt = Date()
        try store.save(record)
        combiners[request.name] = LiveCombiner(record: record, lastHeartbeat: .now, clients: combiners[request.name]?.clients ?? [])
        logger.info("combiner registered", metadata: ["combiner": "\(request.name)", "address": "\(request.replyAddress)"])
        return record
    }

    /// Records a heartbeat. Returns false for a combiner this controller does not know
    /// (it must register again, e.g. after a controller restart).
    func heartbeat(_ beat: CombinerHeartbeat) throws -> Bool {
        guard var live = combiners[beat.name] else { return false }
        live.lastHeartbeat = .now
        let clients = Set(beat.clients)
        let stale = Set(beat.staleClients)
        let changedClients = clients != live.clients || stale != live.staleClients
        let wasOnline = live.record.status == .online
        live.clients = clients
        live.staleClients = stale
        live.record.status = .online
        live.record.clientsOnline = clients.count
        live.record.lastSeen = Date()
        if changedClients || !wasOnline {
            live.record.updatedAt = Date()
            try store.save(live.record)
            try store.updateClientStatuses(combiner: beat.name, online: clients, stale: stale)
        }
        combiners[beat.name] = live
        return true
    }

    /// A combiner that announced it is leaving: offline now, and its clients with it.
    func leave(_ name: String) throws {
        guard var live = combiners[name] else { return }
        live.record.status = .offline
        live.record.clientsOnline = 0
        live.record.updatedAt = Date()
        live.clients = []
        combiners[name] = live
        try store.save(live.record)
        try store.updateClientStatuses(combiner: name, online: [])
        logger.info("combiner left", metadata: ["combiner": "\(name)"])
    }

    /// Marks combiners stale after 2 missed heartbeats and offline after 5; their clients
    /// follow. Called periodically.
    func sweep(now: ContinuousClock.Instant = .now) throws {
        for (name, var live) in combiners {
            let silent = now - live.lastHeartbeat
            let status: PeerStatus = silent > heartbeatInterval * 5 ? .offline : silent > heartbeatInterval * 2 ? .stale : .online
            guard status != live.record.status else { continue }
            live.record.status = status
            live.record.updatedAt = Date()
            try store.save(live.record)
            if status == .offline {
                live.clients = []
                live.record.clientsOnline = 0
                try store.save(live.record)
                try store.updateClientStatuses(combiner: name, online: [])
            }
            combiners[name] = live
            logger.warning("combiner \(status.rawValue)", metadata: ["combiner": "\(name)"])
        }
    }

    /// Online combiners with at least one online client, and those clients.
    func participants() -> [(name: String, clients: Set<String>)] {
        combiners.values.filter { $0.record.status == .online && !$0.clients.isEmpty }
            .map { ($0.record.name, $0.clients) }
            .sorted { $0.name < $1.name }
    }

    func onlineClientCount() -> Int {
        combiners.values.filter { $0.record.status == .online }.reduce(0) { $0 + $1.clients.count }
    }

    /// Picks a combiner for a client: its preferred one if that exists and is online,
    /// otherwise the online combiner with the fewest clients.
    func assign(clientId: String, name: String, preferred: String?, ip: String?, package: String?) throws -> CombinerRecord? {
        let online = combiners.values.filter { $0.record.status == .online }
        let chosen: LiveCombiner?
        if let preferred, let match = online.first(where: { $0.record.name == preferred }) {
            chosen = match
        } else {
            let load = try store.assignedClientCounts(excluding: clientId)
            chosen = online.min { (load[$0.record.name] ?? 0, $0.record.name) < (load[$1.record.name] ?? 0, $1.record.name) }
        }
        guard let chosen else { return nil }
        var client = try store.fetch(ClientRecord.self, id: clientId)
            ?? ClientRecord(clientId: clientId, name: name, combiner: chosen.record.name, combinerPreferred: preferred, ip: ip, package: package)
        client.name = name
        client.combiner = chosen.record.name
        client.combinerPreferred = preferred
        client.ip = ip ?? client.ip
        client.package = package ?? client.package
        client.status = chosen.clients.contains(clientId) ? .online : .available
        client.updatedAt = Date()
        try store.save(client)
        return chosen.record
    }
}
