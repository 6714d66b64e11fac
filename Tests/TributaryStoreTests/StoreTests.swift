import Foundation
import Testing
import TributaryModel
@testable import TributaryStore

@Suite struct StoreTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-store-\(UUID().uuidString)")
    }

    private func sampleModel(_ value: Float) throws -> Model {
        try Model(float32: [("w", [2, 3], [Float](repeating: value, count: 6)), ("b", [3], [value, -value, 0])])
    }

    @Test func modelIsStoredAsFileAndRowAndSurvivesReopen() throws {
        let store = try Store(directory: directory)
        let model = try sampleModel(1.5)
        let record = try store.storeModel(model, parent: nil, sessionId: "s", roundNumber: 1, name: "seed")
        #expect(FileManager.default.fileExists(atPath: store.models.url(id: record.modelId).path))
        #expect(try store.loadModel(id: record.modelId) == model)

        let reopened = try Store(directory: directory)
        let again = try #require(try reopened.fetch(ModelRecord.self, id: record.modelId))
        #expect(again.checksum == String(model.checksum, radix: 16))
        #expect(again.spec == model.spec)
        #expect(try reopened.loadModel(id: record.modelId) == model)
    }

    @Test func corruptModelFileIsDetected() throws {
        let store = try Store(directory: directory)
        let record = try store.storeModel(try sampleModel(2), parent: nil, sessionId: nil, roundNumber: nil, name: nil)
        // Replace the file with a valid file of another model: the row's checksum must catch it.
        try NativeFormat.write(try sampleModel(3), to: store.models.url(id: record.modelId))
        #expect(throws: StoreError.self) { try store.loadModel(id: record.modelId) }
    }

    @Test func listFiltersSortsAndPagesInSQL() throws {
        let store = try Store(directory: directory)
        let start = Date(timeIntervalSince1970: 1_000_000)
        for i in 0..<5 {
            var session = SessionRecord(sessionId: "id\(i)", name: "s\(i)", seedModelId: nil, config: SessionConfig(), now: start.addingTimeInterval(Double(i)))
            session.status = i.isMultiple(of: 2) ? .finished : .created
            try store.save(session)
        }
        let all = try store.list(SessionRecord.self, columns: SessionRecord.columns, query: ListQuery())
        #expect(all.count == 5)
        #expect(all.rows.map(\.name) == ["s4", "s3", "s2", "s1", "s0"])  // default: newest first

        let finished = try store.list(SessionRecord.self, columns: SessionRecord.columns, query: ListQuery(filters: ["status": ["Finished"]]))
        #expect(finished.count == 3)

        let some = try store.list(SessionRecord.self, columns: SessionRecord.columns, query: ListQuery(filters: ["name": ["s1", "s3", "nope"]], sortKey: "name", ascending: true))
        #expect(some.rows.map(\.name) == ["s1", "s3"])

        let page = try store.list(SessionRecord.self, columns: SessionRecord.columns, query: ListQuery(sortKey: "name", ascending: true, limit: 2, skip: 1))
        #expect(page.count == 5)
        #expect(page.rows.map(\.name) == ["s1", "s2"])
    }

    @Test func unknownFilterOrSortFieldIsRefused() throws {
        let store = try Store(directory: directory)
        #expect(throws: StoreError.self) {
            try store.list(SessionRecord.self, columns: SessionRecord.columns, query: ListQuery(filters: ["nope; DROP TABLE session": ["x"]]))
        }
        #expect(throws: StoreError.self) {
            try store.list(SessionRecord.self, columns: SessionRecord.columns, query: ListQuery(sortKey: "nope"))
        }
    }

    @Test func sessionConfigDefaultsAndValidation() throws {
        let config = try JSONDecoder().decode(SessionConfig.self, from: Data(#"{"rounds": 3, "training": {"local_epochs": 2}}"#.utf8))
        #expect(config.rounds == 3)
        #expect(config.training.localEpochs == 2)
        #expect(config.roundTimeout == 180)
        #expect(config.invalidField() == nil)

        var bad = config
        bad.aggregator = "nope"
        #expect(bad.invalidField()?.field == "aggregator")
        bad = config
        bad.roundTimeout = 0
        #expect(bad.invalidField()?.field == "round_timeout")
        bad = config
        bad.training.learningRate = -1
        #expect(bad.invalidField()?.field == "training.learning_rate")
    }

    @Test func clientStatusesFollowCombinerReports() throws {
        let store = try Store(directory: directory)
        try store.save(ClientRecord(clientId: "a", name: "a", combiner: "c0", combinerPreferred: nil, ip: nil, package: nil))
        try store.save(ClientRecord(clientId: "b", name: "b", combiner: "c0", combinerPreferred: nil, ip: nil, package: nil))
        try store.updateClientStatuses(combiner: "c0", online: ["a", "x"])
        #expect(try store.fetch(ClientRecord.self, id: "a")?.status == .online)
        #expect(try store.fetch(ClientRecord.self, id: "x")?.combiner == "c0")  // joined without REST: row created
        try store.updateClientStatuses(combiner: "c0", online: ["x"])
        #expect(try store.fetch(ClientRecord.self, id: "a")?.status == .offline)
        #expect(try store.assignedClientCounts()["c0"] == 2)  // b (available) and x (online)
    }
}
