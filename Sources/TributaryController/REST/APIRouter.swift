import Hummingbird
import TributaryStore

/// The controller's REST facade (Scaleout Edge style `/api/v1/...`).
enum APIRouter {
    static func build(store: Store, registry: NetworkRegistry, sessions: SessionManager) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: JSONErrorMiddleware())
        router.get("/health") { _, _ in APIResponse.message("OK") }
        MetricsRoute.register(on: router)

        // Writes and control first: constant paths win over `{id}` in Hummingbird's trie anyway.
        ClientAddRoute(registry: registry).register(on: router)
        ModelUploadRoutes(store: store).register(on: router)
        SessionControlRoutes(store: store, sessions: sessions).register(on: router)
        ControlRoutes(sessions: sessions).register(on: router)

        ResourceRoutes<SessionRecord>(path: "/api/v1/sessions", name: "session", columns: SessionRecord.columns, store: store).register(on: router)
        ResourceRoutes<RoundRecord>(path: "/api/v1/rounds", name: "round", columns: RoundRecord.columns, store: store).register(on: router)
        ResourceRoutes<ModelRecord>(path: "/api/v1/models", name: "model", columns: ModelRecord.columns, store: store).register(on: router)
        ResourceRoutes<ClientRecord>(path: "/api/v1/clients", name: "client", columns: ClientRecord.columns, store: store).register(on: router)
        ResourceRoutes<CombinerRecord>(path: "/api/v1/combiners", name: "combiner", columns: CombinerRecord.columns, store: store).register(on: router)
        ResourceRoutes<StatusRecord>(path: "/api/v1/statuses", name: "status", columns: StatusRecord.columns, store: store).register(on: router)
        return router
    }
}
