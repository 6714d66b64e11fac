import Crypto
import Foundation
import Hummingbird
import TributaryStore

/// Compute packages (`/api/v1/packages`): multipart upload (then active), the active one
/// (GET/PUT/DELETE), `download` and `checksum` (SHA-256). Files live under the data
/// directory as `packages/<uuid>.<ext>`.
struct PackageRoutes {
    let store: Store
    let resource: Resource<PackageRecord>
    static let maxBytes = 1 << 30
    static let extensions = ["tar.gz", "tar.bz2", "tgz", "tar", "zip", "gz", "bz2"]

    var directory: URL { store.directory.appendingPathComponent("packages") }

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.post("/api/v1/packages") { request, _ in
            let buffer = try await request.body.collect(upTo: Self.maxBytes)
            let form = try MultipartForm(buffer: buffer, contentType: request.headers[.contentType] ?? "")
            let bytes = try form.file()
            let fileName = form.files["file"]?.filename ?? "package.tar.gz"
            guard let ext = Self.extensions.first(where: { fileName.lowercased().hasSuffix(".\($0)") }) else {
                throw APIError.badRequest("field 'file' must be a .tar.gz, .tgz, .tar, .zip, .gz or .bz2 archive")
            }
            let helper = try form.fields["helper"] ?? store.activeHelper()
            guard HelperRoutes.helpers.contains(helper) else { throw APIError.badRequest(HelperRoutes.invalidHelper) }
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let storageName = "\(Store.newId()).\(ext)"
            try Data(bytes).write(to: directory.appendingPathComponent(storageName), options: .atomic)
            let package = PackageRecord(name: form.fields["name"] ?? fileName, description: form.fields["description"] ?? "", helper: helper,
                                        fileName: fileName, storageFileName: storageName,
                                        checksum: SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined(), sizeBytes: bytes.count)
            try store.insert(package)
            try store.activatePackage(package.packageId)
            return APIResponse.message("Package uploaded")
        }
        router.get("/api/v1/packages/active") { _, _ in
            guard let active = try store.activePackage() else { throw APIError.notFound("Entity not found: no package is active") }
            return try APIResponse.object(resource.present(active))
        }
        router.put("/api/v1/packages/active") { request, _ in
            let body = try await request.bodyObject()
            // Not `required: true` on `id`: that would refuse the `package_id` spelling before it is read.
            guard let id = try body.string("id") ?? body.string("package_id"), !id.isEmpty else { throw APIError.badRequest("missing field 'id'") }
            _ = try resource.fetch(id, in: store)
            try store.activatePackage(id)
            return APIResponse.message("Active package set")
        }
        router.delete("/api/v1/packages/active") { _, _ in
            guard try store.activePackage() != nil else { throw APIError.notFound("Entity not found: no package is active") }
            try store.activatePackage(nil)
            return APIResponse.message("Active package deleted")
        }
        router.get("/api/v1/packages/download") { request, _ in
            let package = try named(request.query("name"))
            let data = try Data(contentsOf: directory.appendingPathComponent(package.storageFileName))
            return Response(status: .ok, headers: [.contentType: "application/octet-stream", .contentDisposition: "attachment; filename=\(package.fileName)"],
                            body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.get("/api/v1/packages/checksum") { request, _ in
            let package = try named(request.query("name"))
            return try APIResponse.object(["message": "Checksum of \(package.fileName)", "checksum": package.checksum])
        }
    }

    /// The package of that name (newest), or the active one when no name is given.
    private func named(_ name: String?) throws -> PackageRecord {
        if let name {
            let page = try store.list(PackageRecord.self, columns: PackageRecord.columns, query: ListQuery(filters: ["name": [name]], limit: 1))
            guard let package = page.rows.first else { throw APIError.notFound("Entity not found: no package named \(name)") }
            return package
        }
        guard let active = try store.activePackage() else { throw APIError.notFound("Entity not found: no package is active") }
        return active
    }
}

/// `GET|PUT /api/v1/helpers/active`: how model files are read (`numpyhelper`: .npz).
struct HelperRoutes {
    let store: Store
    static let helpers = ["numpyhelper", "binaryhelper", "androidhelper"]
    static let invalidHelper = "Helper is required to be either 'numpyhelper', 'binaryhelper' or 'androidhelper'"

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/api/v1/helpers/active") { _, _ in
            // Tributary reads native and .npz models whatever the helper; numpyhelper is the default.
            try APIResponse.object(try store.activeHelper())
        }
        router.put("/api/v1/helpers/active") { request, _ in
            let body = try await request.bodyObject()
            guard let helper = try body.string("helper"), Self.helpers.contains(helper) else { throw APIError.badRequest(Self.invalidHelper) }
            try store.setSetting("active_helper", helper)
            return try APIResponse.object(["message": "Active helper set", "active_helper": helper])
        }
    }
}
