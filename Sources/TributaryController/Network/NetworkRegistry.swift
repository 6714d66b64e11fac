import Foundation
import Logging
import Metrics
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
    private let events: EventHub
    private var combiners: [String: LiveCombiner] = [:]
    /// The last progress each combiner reported, to turn the next report into events.
    private var progress: [String: JobProgress] = [:]

    init(store: Store, heartbeatInterval: Duration, events: EventHub = EventHub(), logger: Logger) {
        self.store = store
        self.heartbeatInterval = heartbeatInterval
        self.events = events
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
        events.publish("combiner_joined", ["combiner": request.name, "address": request.replyAddress])
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
        if let report = beat.progress { publishProgress(of: beat.name, report) }
        return true
    }

    /// Turns a combiner's job progress into `client_update` events (one per newly accepted
    /// client) and a `training_progress` event over all combiners running that job.
    private func publishProgress(of combiner: String, _ report: JobProgress) {
        let previous = progress[combiner].flatMap { $0.jobId == report.jobId ? Set($0.accepted) : nil } ?? []
        progress[combiner] = report
        let fresh = report.accepted.filter { !previous.contains($0) }
        guard !fresh.isEmpty else { return }
        let status = report.kind == .train ? "training_completed" : "validation_completed"
        for client in fresh {
            events.publish("client_update", ["client_id": client, "combiner": combiner, "status": status, "round": report.round])
        }
        let sameJob = progress.values.filter { $0.jobId == report.jobId }
        let accepted = sameJob.reduce(0) { $0 + $1.accepted.count }
        let selected = sameJob.reduce(0) { $0 + $1.selected }
        events.publish("training_progress", [
            "round": report.round, "phase": report.kind.rawValue, "clients_reported": accepted, "clients_expected": selected,
            "progress": selected > 0 ? Double(accepted) / Double(selected) : 0,
        ])
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
        events.publish("combiner_left", ["combiner": name, "reason": "shut down"])
    }

    /// Sets a combiner's operator-given host names (`PATCH /api/v1/combiners/{id}`), in the
    /// live copy too so the next heartbeat does not write the old ones back.
    func setHostnames(of record: CombinerRecord, internal internalName: String??, public publicName: String??) throws -> CombinerRecord {
        var updated = combiners[record.name]?.record ?? record
        if let internalName { updated.internalHostname = internalName }
        if let publicName { updated.publicHostname = publicName }
        updated.updatedAt = Date()
        combiners[record.name]?.record = updated
        try store.save(updated)
        return updated
    }

    /// Forgets a combiner (`DELETE /api/v1/combiners/{id}`): its row goes and its clients go
    /// offline. If it is still running, its next heartbeat is told to register again.
    func forget(_ record: CombinerRecord) throws {
        combiners[record.name] = nil
        try store.updateClientStatuses(combiner: record.name, online: [])
        try store.delete(CombinerRecord.self, id: record.combinerId)
        recordGauges()
        logger.info("combiner deleted", metadata: ["combiner": "\(record.name)"])
        events.publish("combiner_left", ["combiner": record.name, "reason": "deleted"])
    }

    /// Marks combiners stale after 2 missed heartbeats and offline after 5; their clients
    /// follow. Called periodically.
    func sweep(now: ContinuousClock.Instant = .now) throws {
        defer { recordGauges() }
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
            if status == .offline { events.publish("combiner_left", ["combiner": name, "reason": "missed heartbeats"]) }
        }
    }

    /// Keeps `tributary_combiners_online` and `tributary_clients_online` current.
    private func recordGauges() {
        let online = combiners.values.filter { $0.record.status == .online }
        Gauge(label: "tributary_combiners_online").record(online.count)
        Gauge(label: "tributary_clients_online").record(online.reduce(0) { $0 + $1.clients.count })
    }

    /// Online combiners with at least one online client, and those clients.
    func participants() -> [(name: String, clients: Set<String>)] {
        combiners.values.filter { $0.record.status == .online && !$0.clients.isEmpty }
            .map { ($0.record.name, $0.clients) }
            .sorted { $0.name < $1.name }
    }

    /// Ids of the clients online at online combiners.
    func onlineClientIds() -> Set<String> {
        combiners.values.filter { $0.record.status == .online }.reduce(into: Set<String>()) { $0.formUnion($1.clients) }
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
