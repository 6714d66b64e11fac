import GRDB

extension Store {
    /// Schema migrations, in order. Never edit a shipped migration: add a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "model") { t in
                t.primaryKey("model_id", .text)
                t.column("parent_model", .text).indexed()
                t.column("session_id", .text).indexed()
                t.column("round_number", .integer)
                t.column("name", .text)
                t.column("checksum", .text).notNull()
                t.column("size_bytes", .integer).notNull()
                t.column("parameter_count", .integer).notNull()
                t.column("spec", .text).notNull()
                t.column("committed_at", .datetime).notNull().indexed()
                t.column("updated_at", .datetime).notNull()
            }
            try db.create(table: "session") { t in
                t.primaryKey("session_id", .text)
                t.column("name", .text).notNull().unique()
                t.column("status", .text).notNull()
                t.column("seed_model_id", .text)
                t.column("session_config", .text).notNull()
                t.column("committed_at", .datetime).notNull().indexed()
                t.column("updated_at", .datetime).notNull()
                t.column("started_at", .datetime)
                t.column("finished_at", .datetime)
            }
            try db.create(table: "round") { t in
                t.primaryKey("round_id", .text)
                t.column("session_id", .text).notNull().references("session", onDelete: .cascade)
                t.column("round_number", .integer).notNull()
                t.column("status", .text).notNull()
                t.column("model_in", .text).notNull()
                t.column("model_out", .text)
                t.column("combiners", .text).notNull()
                t.column("round_data", .text).notNull()
                t.column("error", .text)
                t.column("committed_at", .datetime).notNull().indexed()
                t.column("updated_at", .datetime).notNull()
                t.column("finished_at", .datetime)
                t.uniqueKey(["session_id", "round_number"])
            }
            try db.create(table: "combiner") { t in
                t.primaryKey("combiner_id", .text)
                t.column("name", .text).notNull().unique()
                t.column("address", .text).notNull()
                t.column("publish_address", .text).notNull()
                t.column("status", .text).notNull()
                t.column("clients_online", .integer).notNull()
                t.column("last_seen", .datetime).notNull()
                t.column("committed_at", .datetime).notNull()
                t.column("updated_at", .datetime).notNull()
            }
            try db.create(table: "client") { t in
                t.primaryKey("client_id", .text)
                t.column("name", .text).notNull()
                t.column("combiner", .text).notNull().indexed()
                t.column("combiner_preferred", .text)
                t.column("status", .text).notNull()
                t.column("ip", .text)
                t.column("package", .text)
                t.column("last_seen", .datetime).notNull()
                t.column("committed_at", .datetime).notNull()
                t.column("updated_at", .datetime).notNull()
            }
        }
        // v2: server-optimizer state per round, and status events (rejected updates).
        migrator.registerMigration("v2") { db in
            // The optimizer state after the round's step (JSON); kept out of `RoundRecord` so
            // REST listings of rounds do not carry model-sized blobs.
            try db.alter(table: "round") { t in t.add(column: "optimizer_state", .text) }
            try db.create(table: "status") { t in
                t.primaryKey("status_id", .text)
                t.column("status", .text).notNull()
                t.column("log_level", .text).notNull()
                t.column("type", .text).notNull().indexed()
                t.column("session_id", .text).indexed()
                t.column("round_number", .integer)
                t.column("sender_name", .text).indexed()
                t.column("sender_role", .text)
                t.column("committed_at", .datetime).notNull().indexed()
                t.column("updated_at", .datetime).notNull()
            }
        }
        migrator.registerMigration("v3", migrate: migrateV3)
        // v4: the helper each model follows on download (`numpyhelper`: .npz, `native`: .trbm);
        // NULL for older rows, which follow the active helper.
        migrator.registerMigration("v4") { db in
            try db.alter(table: "model") { t in t.add(column: "helper", .text) }
        }
        // v5: what each client did per round (participant scores), HTTP participants, and
        // experiment definitions of the FL-framework API.
        migrator.registerMigration("v5") { db in
            try db.create(table: "participation") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("session_id", .text).notNull().indexed()
                t.column("round_number", .integer).notNull()
                t.column("client_id", .text).notNull().indexed()
                t.column("outcome", .text).notNull()
                t.column("num_examples", .double).notNull()
                t.column("metrics", .text).notNull()
                t.column("reason", .text)
                t.column("committed_at", .datetime).notNull()
            }
            try db.create(table: "http_client") { t in
                t.primaryKey("client_id", .text)
                t.column("registration_id", .text).notNull()
                t.column("api", .text).notNull()
                t.column("registration", .text).notNull()
                t.column("registered_at", .datetime).notNull()
                t.column("last_seen", .datetime).notNull()
            }
            try db.create(table: "experiment") { t in
                t.primaryKey("session_id", .text)
                t.column("definition", .text).notNull()
                t.column("committed_at", .datetime).notNull()
            }
        }
        // v6: HTTP devices of the device API.
        migrator.registerMigration("v6") { db in
            try db.create(table: "device") { t in
                t.primaryKey("id", .text)
                t.column("device_identifier", .text).notNull().unique()
                t.column("org_id", .text).indexed()
                t.column("platform", .text).notNull()
                t.column("capabilities", .text).notNull()
                t.column("registration", .text).notNull()
                t.column("api_key_hash", .text).notNull().unique()
                t.column("reported_status", .text).notNull()
                t.column("metrics", .text).notNull()
                t.column("last_heartbeat", .datetime)
                t.column("created_at", .datetime).notNull()
            }
        }
        // v7: the device API's org keys, stored device updates (for a later aggregation of
        // their model version), on-device training jobs and personalization state.
        migrator.registerMigration("v7") { db in
            try db.create(table: "org_key") { t in
                t.primaryKey("id", .text)
                t.column("org_id", .text).notNull().indexed()
                t.column("name", .text).notNull()
                t.column("key_hash", .text).notNull().unique()
                t.column("created_at", .datetime).notNull()
                t.column("revoked_at", .datetime)
            }
            try db.create(table: "device_update") { t in
                t.primaryKey("id", .text)
                t.column("device_id", .text).notNull().indexed()
                t.column("model_id", .text).notNull()
                t.column("version", .text).notNull().indexed()
                t.column("round_id", .text)
                t.column("sample_count", .integer).notNull()
                t.column("metrics", .text).notNull()
                t.column("update_format", .text).notNull()
                t.column("size_bytes", .integer).notNull()
                t.column("aggregated_into", .text)
                t.column("received_at", .datetime).notNull()
            }
            try db.create(table: "training_job") { t in
                t.primaryKey("id", .text)
                t.column("device_id", .text).notNull().indexed()
                t.column("round_id", .text)
                t.column("model_id", .text)
                t.column("state", .text).notNull()
                t.column("progress", .text).notNull()
                t.column("metrics", .text).notNull()
                t.column("adapter_artifact", .text)
                t.column("created_at", .datetime).notNull()
                t.column("updated_at", .datetime).notNull()
                t.column("completed_at", .datetime)
            }
            try db.create(table: "personalization") { t in
                t.column("device_id", .text).notNull()
                t.column("model_id", .text).notNull()
                t.column("federation_id", .text).notNull().indexed()
                t.column("strategy", .text).notNull()
                t.column("metrics", .text).notNull()
                t.column("weights_key", .text)
                t.column("weights_bytes", .integer).notNull()
                t.column("created_at", .datetime).notNull()
                t.column("updated_at", .datetime).notNull()
                t.primaryKey(["device_id", "model_id", "federation_id"])
            }
        }
        // v8: peers removed from the network; their peer tokens issued before then are refused.
        migrator.registerMigration("v8") { db in
            try db.create(table: "peer_revocation") { t in
                t.column("role", .text).notNull()
                t.column("name", .text).notNull()
                t.column("revoked_at", .datetime).notNull()
                t.primaryKey(["role", "name"])
            }
        }
        return migrator
    }
}
