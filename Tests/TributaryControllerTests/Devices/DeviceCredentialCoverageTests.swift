import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import TributaryController

/// Nobody joins, speaks or reads on the device API without a credential: every route the
/// router holds under the device API's base, enumerated from the router itself (so a route
/// added later is covered too), answers an unknown key with a 401 in the API's error body.
@Suite("Device API: every route needs a credential")
struct DeviceCredentialCoverageTests {
    @Test("Every device route refuses an unknown device key and an unknown org key with 401")
    func everyRouteNeedsACredential() async throws {
        try await withController { service, client in
            let routes = try service.makeRouter().routes.filter { $0.path.description.hasPrefix(DeviceAPI.base) }
            #expect(routes.count >= 40, "\(routes.count) device routes: \(routes)")
            for route in routes {
                // `{id}`-style parameters become a placeholder; the credential is checked before the id.
                let path = route.path.description.split(separator: "/").map { $0.hasPrefix(":") || $0.hasPrefix("{") ? "x" : String($0) }.joined(separator: "/")
                for key in ["trb_dev_unknown", "trb_org_unknown"] {
                    let r = try await client.send(route.method, "/" + path, json: route.method == .get || route.method == .delete ? nil : "{}", headers: DeviceRouteTests.bearer(key))
                    #expect(r.status == .unauthorized, "\(route.method) \(path) with \(key): \(r.status) \(r.text)")
                    #expect(r.object()["code"] as? String == "unauthorized", "\(route.method) \(path): \(r.text)")
                }
            }
        }
    }
}
