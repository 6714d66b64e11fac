/// The address peers should dial for a socket bound to `url`: `tcp://0.0.0.0:7200` is not
/// dialable from another host, so the advertised host replaces the bound one (the port stays).
public enum AdvertisedAddress {
    public static func replacingHost(of url: String, with host: String?) -> String {
        guard let host, let schemeEnd = url.range(of: "://"), let colon = url.lastIndex(of: ":"), colon > schemeEnd.upperBound else { return url }
        return String(url[..<schemeEnd.upperBound]) + host + String(url[colon...])
    }
}

extension AdvertisedAddress {
    /// Whether `host` (a name or IP literal, or the host of a `scheme://host:port` URL) reaches
    /// only this machine: `localhost`, 127.0.0.0/8, ::1, or an ipc/inproc address.
    public static func isLoopback(_ hostOrURL: String) -> Bool {
        if hostOrURL.hasPrefix("ipc://") || hostOrURL.hasPrefix("inproc://") { return true }
        let host = hostOrURL.contains("://") ? (TLSIdentity.host(of: hostOrURL) ?? "") : hostOrURL
        return host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}
