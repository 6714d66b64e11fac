import Foundation
import Hummingbird

/// The web dashboard: static HTML, CSS and JavaScript built into the controller binary as
/// package resources (no CDN, no build step), served at `/dashboard/`; `/` redirects there.
/// The page uses only the public REST API and `/ws/events`, so it sees exactly what any other
/// API user sees, and asks for a token when the API answers 401.
///
/// `assetsDirectory` (the controller's `--dashboard-dir`) serves the files from disk instead,
/// so the page can be edited without rebuilding.
struct DashboardRoutes {
    let assetsDirectory: URL?

    /// The files the dashboard is made of, and their content types.
    static let assets: [String: String] = [
        "index.html": "text/html; charset=utf-8",
        "dashboard.css": "text/css; charset=utf-8",
        "dashboard.js": "text/javascript; charset=utf-8",
        "chart.js": "text/javascript; charset=utf-8",
        "favicon.svg": "image/svg+xml",
    ]

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/") { _, _ in Self.redirect() }
        // The router treats `/dashboard` and `/dashboard/` as one path; the page's relative asset
        // URLs need the trailing slash, so send the bare form there.
        router.get("/dashboard") { request, _ in request.uri.path.hasSuffix("/") ? try self.serve("index.html") : Self.redirect() }
        router.get("/dashboard/:file") { _, context in try self.serve(try context.parameters.require("file")) }
    }

    private static func redirect() -> Response {
        Response(status: .seeOther, headers: [.location: "/dashboard/"])
    }

    private func serve(_ file: String) throws -> Response {
        // Only the known names: nothing else on disk is reachable through this route.
        guard let type = Self.assets[file], let url = location(of: file), let data = try? Data(contentsOf: url) else {
            throw APIError(status: .notFound, message: "no dashboard asset '\(file)'")
        }
        return Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-cache"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    private func location(of file: String) -> URL? {
        if let assetsDirectory { return assetsDirectory.appendingPathComponent(file) }
        return Bundle.module.url(forResource: file, withExtension: nil, subdirectory: "Assets")
    }
}
