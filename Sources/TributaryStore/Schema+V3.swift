import GRDB

extension Store {
    /// v3: the rest of the REST facade's state — validations, metrics, predictions,
    /// attributes, telemetry, runs, packages, chunked uploads, settings — and senders stored
    /// flat with correlation ids on status events.
    static func migrateV3(_ db: Database) throws {
        func sender(_ t: TableDefinition, _ prefix: String = "sender") {
            t.column("\(prefix)_name", .text).indexed()
            t.column("\(prefix)_role", .text)
            t.column("\(prefix)_client_id", .text).indexed()
            t.column("\(prefix)_combiner_id", .text)
        }
        func stamps(_ t: TableDefinition) {
            t.column("committed_at", .datetime).notNull().indexed()
            t.column("updated_at", .datetime).notNull()
        }
        try db.alter(table: "status") { t in
            t.add(column: "correlation_id", .text)
            t.add(column: "data", .text)
            t.add(column: "extra", .text)
            t.add(column: "sender_client_id", .text)
            t.add(column: "sender_combiner_id", .text)
        }
        try db.alter(table: "session") { t in t.add(column: "description", .text) }
        try db.alter(table: "combiner") { t in
            t.add(column: "internal_hostname", .text)
            t.add(column: "public_hostname", .text)
        }
        try db.create(table: "validation") { t in
            t.primaryKey("validation_id", .text)
            t.column("model_id", .text).notNull().indexed()
            t.column("session_id", .text).indexed()
            t.column("round_number", .integer)
            t.column("correlation_id", .text)
            t.column("num_examples", .integer).notNull()
            t.column("data", .text).notNull()
            t.column("meta", .text)
            sender(t)
            sender(t, "receiver")
            stamps(t)
        }
        try db.create(table: "prediction") { t in
            t.primaryKey("id", .text)
            t.column("prediction_id", .text).notNull().indexed()
            t.column("model_id", .text).notNull()
            t.column("correlation_id", .text)
            t.column("num_examples", .integer).notNull()
            t.column("data", .text).notNull()
            t.column("meta", .text)
            sender(t)
            sender(t, "receiver")
            stamps(t)
        }
        try db.create(table: "metric") { t in
            t.primaryKey("metric_id", .text)
            t.column("key", .text).notNull().indexed()
            t.column("value", .double).notNull()
            t.column("step", .integer)
            t.column("model_id", .text).indexed()
            t.column("round_id", .text)
            t.column("session_id", .text).indexed()
            sender(t)
            stamps(t)
        }
        try db.create(table: "attribute") { t in
            t.primaryKey("attribute_id", .text)
            t.column("key", .text).notNull().indexed()
            t.column("value", .text).notNull()
            sender(t)
            stamps(t)
        }
        try db.create(table: "telemetry") { t in
            t.primaryKey("telemetry_id", .text)
            t.column("key", .text).notNull().indexed()
            t.column("value", .double)
            t.column("client_id", .text).indexed()
            t.column("session_id", .text)
            t.column("meta", .text)
            sender(t)
            stamps(t)
        }
        try db.create(table: "run") { t in
            t.primaryKey("run_id", .text)
            t.column("session_id", .text).notNull().indexed()
            t.column("status", .text).notNull()
            t.column("model_id", .text).notNull()
            t.column("completed_at_model_id", .text)
            t.column("rounds", .integer).notNull()
            t.column("round_timeout", .double).notNull()
            t.column("client_ids", .text)
            t.column("model_name_prefix", .text)
            t.column("completed_at", .datetime)
            stamps(t)
        }
        try db.create(table: "package") { t in
            t.primaryKey("package_id", .text)
            t.column("name", .text).notNull().indexed()
            t.column("description", .text).notNull()
            t.column("helper", .text).notNull()
            t.column("file_name", .text).notNull()
            t.column("storage_file_name", .text).notNull()
            t.column("checksum", .text).notNull()
            t.column("size_bytes", .integer).notNull()
            t.column("active", .boolean).notNull()
            stamps(t)
        }
        try db.create(table: "file_upload") { t in
            t.primaryKey("upload_id", .text)
            t.column("file_name", .text).notNull()
            t.column("file_size", .integer).notNull()
            t.column("chunk_size", .integer).notNull()
            t.column("total_chunks", .integer).notNull()
            t.column("next_chunk", .integer).notNull()
            t.column("bytes_received", .integer).notNull()
            t.column("status", .text).notNull()
            t.column("file_token", .text).unique()
            stamps(t)
        }
        try db.create(table: "setting") { t in
            t.primaryKey("key", .text)
            t.column("value", .text).notNull()
        }
    }
}
