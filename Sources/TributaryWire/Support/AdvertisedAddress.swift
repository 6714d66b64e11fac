/// The address peers should dial for a socket bound to `url`: `tcp://0.0.0.0:7200` is not
/// dialable from another host, so the advertised host replaces the bound one (the port stays).
public enum AdvertisedAddress {
    public static func replacingHost(of url: String, with host: String?) -> String {
        guard let host, let schemeEnd = url.range(of: "://"), let colon = url.lastIndex(of: ":"), colon > schemeEnd.upperBound else { return url }
        return String(url[..<schemeEnd.upperBound]) + host + String(url[colon...])
    }
}
