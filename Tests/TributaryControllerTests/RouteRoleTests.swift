import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import TributaryController

/// Every route of every API declares the role it needs (`RoutePolicy`), and the declaration is
/// what is enforced: enumerated from the router itself, so a route added without a declaration
/// fails here.
@Suite("Route roles: every route declares one, and it is enforced")
struct RouteRoleTests {
    static func concrete(_ pattern: String) -> String {
        pattern.split(separator: "/", omittingEmptySubsequences: false).map { $0.hasPrefix("{") || $0.hasPrefix(":") ? "x" : String($0) }.joined(separator: "/")
    }

    @Test("No route of the router is left without a declared role")
    func everyRouteDeclaresARole() async throws {
        try await withController { service, _ in
            let routes = try service.makeRouter().routes
            #expect(routes.count > 150)
            let undeclared = routes.filter { RoutePolicy.role($0.method, $0.path.description) == nil }
            #expect(undeclared.isEmpty, "routes without a role: \(undeclared)")
            // The event stream is on the WebSocket router.
            #expect(RoutePolicy.role(.get, "/ws/events") == .observer && RoutePolicy.role(.get, "/fl/ws/events") == .client)
        }
    }

    @Test("With --jwt-secret: no token is a 401 except on open routes; client and observer tokens get 403 outside their roles; admins pass")
    func rolesAreEnforced() async throws {
        try await withController(jwtSecret: AuthRouteTests.secret) { service, client in
            let tokens = [
                "client": try await AuthRouteTests.token(role: "client"), "observer": try await AuthRouteTests.token(role: "observer"),
                "admin": try await AuthRouteTests.token(role: "admin"),
            ]
            for route in try service.makeRouter().routes {
                let role = try #require(RoutePolicy.role(route.method, route.path.description))
                guard role != .device else { continue }  // the device API's own credentials: DeviceCredentialCoverageTests
                let path = Self.concrete(route.path.description)
                let body = route.method == .get || route.method == .delete ? nil : "{}"
                let anonymous = try await client.send(route.method, path, json: body)
                if role == .open {
                    #expect(anonymous.status != .unauthorized, "\(route): open, got \(anonymous.status)")
                    continue
                }
                #expect(anonymous.status == .unauthorized, "\(route) (\(role)) without a token: \(anonymous.status)")
                for tokenRole in ["client", "observer"] where !role.admits(tokenRole) {
                    let refused = try await client.send(route.method, path, json: body, headers: ["Authorization": "Bearer \(tokens[tokenRole]!)"])
                    #expect(refused.status == .forbidden && refused.text.contains(role.rawValue), "\(route) (\(role)) with a \(tokenRole) token: \(refused.status) \(refused.text)")
                }
                // Admitted roles get past authentication; reads only, so nothing changes.
                if role == .observer {
                    for tokenRole in ["observer", "admin"] {
                        let read = try await client.send(route.method, path, json: body, headers: ["Authorization": "Bearer \(tokens[tokenRole]!)"])
                        #expect(read.status != .unauthorized && read.status != .forbidden, "\(route) with a \(tokenRole) token: \(read.status)")
                    }
                }
            }
        }
    }
}
