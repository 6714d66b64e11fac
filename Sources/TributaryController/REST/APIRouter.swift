import Hummingbird
import TributaryWire
import TributaryStore

/// The controller's REST facade: every route group of the Scaleout Edge API and what FEDn
/// 0.33's Python `APIClient` calls, with FEDn's conventions (see README "REST API").
enum APIRouter {
    struct Dependencies: Sendable {
        let store: Store
        let registry: NetworkRegistry
        let sessions: SessionManager
        let events: EventHub
        let configuration: ControllerConfiguration
        let authentication: APIAuthentication?
        let cohort: HTTPCohort
        let httpParticipants: HTTPParticipants
        let flRateLimiter: FLRateLimiter
        let deviceLimiter: FixedWindowLimiter
        let deviceUploads: UploadSlots
        let peerIssuer: PeerTokenIssuer?
        let peerGate: PeerGate
        let apiRateLimit: APIRateLimit
    }

    /// The resources and what their bodies add to the stored rows.
    enum Resources {
        static let sessions = Resource<SessionRecord>(path: "/api/v1/sessions", columns: SessionRecord.columns)
        static let rounds = Resource<RoundRecord>(path: "/api/v1/rounds", columns: RoundRecord.columns, optionalFields: ["error", "finished_at"])
        static let runs = Resource<RunRecord>(path: "/api/v1/runs", columns: RunRecord.columns, optionalFields: ["client_ids", "model_name_prefix"])
        static let models = Resource<ModelRecord>(path: "/api/v1/models", columns: ModelRecord.columns) { record, object in
            object["model"] = record.modelId  // FEDn's duplicate key
        }
        static let clients = Resource<ClientRecord>(path: "/api/v1/clients", columns: ClientRecord.columns)
        static let combiners = Resource<CombinerRecord>(path: "/api/v1/combiners", columns: CombinerRecord.columns, extend: CombinerRoutes.extend)
        static let statuses = Resource<StatusRecord>(path: "/api/v1/statuses", columns: StatusRecord.columns, optionalFields: ["data", "extra"])
        static let validations = Resource<ValidationRecord>(path: "/api/v1/validations", columns: ValidationRecord.columns, optionalFields: ["meta"])
        static let predictions = Resource<PredictionRecord>(path: "/api/v1/predictions", columns: PredictionRecord.columns, optionalFields: ["meta"])
        static let metrics = Resource<MetricRecord>(path: "/api/v1/metrics", columns: MetricRecord.columns)
        static let attributes = Resource<AttributeRecord>(path: "/api/v1/attributes", columns: AttributeRecord.columns)
        static let telemetry = Resource<TelemetryRecord>(path: "/api/v1/telemetry", columns: TelemetryRecord.columns, optionalFields: ["meta"])
        static let packages = Resource<PackageRecord>(path: "/api/v1/packages", columns: PackageRecord.columns)
    }

    static func build(_ d: Dependencies) throws -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: JSONErrorMiddleware())
        router.add(middleware: APIAuthMiddleware(authentication: d.authentication, rateLimit: d.apiRateLimit))
        router.get("/health") { _, _ in APIResponse.message("OK") }
        router.get("/get_controller_status") { _, _ in try APIResponse.object(["state": await d.sessions.state]) }
        MetricsRoute.register(on: router)
        AuthRoutes(authentication: d.authentication, peerIssuer: d.peerIssuer).register(on: router)
        DashboardRoutes(assetsDirectory: d.configuration.dashboardDirectory).register(on: router)
        FLFrameworkAPI(store: d.store, sessions: d.sessions, registry: d.registry, cohort: d.cohort, participants: d.httpParticipants,
                       events: d.events, limiter: d.flRateLimiter).register(on: router)
        DeviceAPI(store: d.store, authentication: d.authentication, sessions: d.sessions, cohort: d.cohort, limiter: d.deviceLimiter, uploads: d.deviceUploads,
                  requestsPerMinute: d.configuration.deviceRequestsPerMinute, heartbeatInterval: d.configuration.deviceHeartbeatInterval,
                  roundTimeoutRange: d.configuration.deviceRoundMinimumTimeout...3600).register(on: router)

        // Writes and special reads first (constant paths win over `{id}` in the trie anyway).
        let sessionRoutes = SessionRoutes(store: d.store, sessions: d.sessions, resource: Resources.sessions)
        sessionRoutes.register(on: router)
        ControlRoutes(store: d.store, sessions: d.sessions, sessionRoutes: sessionRoutes, events: d.events).register(on: router)
        let uploads = try FileUploads(store: d.store)
        FileUploadRoutes(uploads: uploads).register(on: router)
        ModelRoutes(store: d.store, uploads: uploads, resource: Resources.models).register(on: router)
        ClientRoutes(store: d.store, registry: d.registry, configuration: d.configuration, peerIssuer: d.peerIssuer, peerGate: d.peerGate, authentication: d.authentication).register(on: router)
        CombinerRoutes(store: d.store, registry: d.registry, resource: Resources.combiners, peerGate: d.peerGate).register(on: router)
        EventRecordRoutes(store: d.store, statuses: Resources.statuses, attributes: Resources.attributes, telemetry: Resources.telemetry)
            .register(on: router)
        PackageRoutes(store: d.store, resource: Resources.packages).register(on: router)
        HelperRoutes(store: d.store).register(on: router)

        ResourceRoutes(resource: Resources.sessions, store: d.store).register(on: router)
        ResourceRoutes(resource: Resources.rounds, store: d.store).register(on: router)
        ResourceRoutes(resource: Resources.runs, store: d.store).register(on: router)
        ResourceRoutes(resource: Resources.models, store: d.store).register(on: router)
        ResourceRoutes(resource: Resources.clients, store: d.store).register(on: router)
        ResourceRoutes(resource: Resources.combiners, store: d.store).register(on: router)
        ResourceRoutes(resource: Resources.statuses, store: d.store).register(on: router)
        ResourceRoutes(resource: Resources.validations, store: d.store).register(on: router)
        ResourceRoutes(resource: Resources.predictions, store: d.store).register(on: router)
        ResourceRoutes(resource: Resources.metrics, store: d.store).register(on: router)
        ResourceRoutes(resource: Resources.attributes, store: d.store).register(on: router)
        ResourceRoutes(resource: Resources.telemetry, store: d.store).register(on: router)
        ResourceRoutes(resource: Resources.packages, store: d.store).register(on: router)
        return router
    }
}
