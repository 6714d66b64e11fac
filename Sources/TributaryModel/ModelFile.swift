import Foundation

/// A model file in any format Tributary reads — `.npz`, the native format, or (given a
/// tensor name) a single NumPy `.npy` — told apart by its first bytes and read through a
/// mapping (`MappedFile`), so a file of several GB costs the decoded model and no second copy.
public enum ModelFile {
    public static func read(from url: URL, npyArrayName: String? = nil) throws -> Model {
        let file = try MappedFile(url: url)
        let bytes = file.bytes
        if bytes.starts(with: Array("PK".utf8)) { return try NPZ.decode(bytes) }
        if let name = npyArrayName, bytes.starts(with: [0x93] + Array("NUMPY".utf8)) {
            return try NPZ.decodeArray([UInt8](bytes), name: name)
        }
        return try NativeFormat.decode(bytes)
    }

    /// True when the file is a ZIP (`.npz`), by its magic.
    public static func isNPZ(_ url: URL) -> Bool {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 2)) == Data("PK".utf8)
    }
}
