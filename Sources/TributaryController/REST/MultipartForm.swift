import Foundation
import Hummingbird
import MultipartKit

/// A `multipart/form-data` body (FEDn's uploads: a `file` part plus text fields), or a raw
/// body taken as the file when the request is not multipart.
struct MultipartForm {
    var fields: [String: String] = [:]
    var files: [String: (filename: String?, bytes: [UInt8])] = [:]

    init(buffer: ByteBuffer, contentType: String) throws {
        guard contentType.lowercased().hasPrefix("multipart/form-data") else {
            guard buffer.readableBytes > 0 else { throw APIError.badRequest("missing field 'file'") }
            files["file"] = (nil, Array(buffer.readableBytesView))
            return
        }
        guard let boundary = Self.parameter("boundary", of: contentType) else { throw APIError.badRequest("multipart body without a boundary") }
        let parser = MultipartParser(boundary: boundary)
        var name: String?, filename: String?, body: [UInt8] = []
        var parts: [(name: String?, filename: String?, body: [UInt8])] = []
        parser.onHeader = { field, value in
            guard field.lowercased() == "content-disposition" else { return }
            name = Self.parameter("name", of: value)
            filename = Self.parameter("filename", of: value)
        }
        parser.onBody = { chunk in body.append(contentsOf: chunk.readableBytesView) }
        parser.onPartComplete = {
            parts.append((name, filename, body))
            (name, filename, body) = (nil, nil, [])
        }
        do { try parser.execute(buffer) } catch { throw APIError.badRequest("malformed multipart body") }
        for part in parts {
            guard let key = part.name else { continue }
            if part.filename != nil || key == "file" { files[key] = (part.filename, part.body) }
            else { fields[key] = String(decoding: part.body, as: UTF8.self) }
        }
    }

    /// The bytes of the `file` part; a 400 when it is missing.
    func file(_ key: String = "file") throws -> [UInt8] {
        guard let file = files[key] else { throw APIError.badRequest("missing field '\(key)'") }
        return file.bytes
    }

    /// `key=value` (quoted or not) from a header value such as `form-data; name="file"`.
    static func parameter(_ key: String, of header: String) -> String? {
        for piece in header.split(separator: ";") {
            let pair = piece.trimmingCharacters(in: .whitespaces)
            if pair.lowercased().hasPrefix("\(key)=") {
                return String(pair.dropFirst(key.count + 1)).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        return nil
    }
}
