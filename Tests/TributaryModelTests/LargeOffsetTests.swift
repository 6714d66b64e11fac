import Foundation
import Testing
@testable import TributaryModel

/// Models past 4 GiB: nothing on the path may hold a length or an offset in 32 bits. These
/// checks use sparse files (a hole of 4.5 GiB costs no disk and, read through a mapping that
/// never touches it, no memory) and pure arithmetic, so they run in a second.
@Suite("Offsets beyond 4 GiB")
struct LargeOffsetTests {
    static let hole = 0x1_2000_0000  // 4.5 GiB

    @Test func npzMemberAfterAFourAndAHalfGiBHoleIsRead() throws {
        let a = try Model(float32: [("a", [3], [1, 2, 3])])
        let b = try Model(float32: [("b", [2, 2], [-1, 0.5, 7, 8])])
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("hole-\(UUID().uuidString).npz")
        defer { try? FileManager.default.removeItem(at: url) }
        try SparseZip.write(to: url, first: ("a.npy", NPY.header(dtype: .float32, shape: [3]) + a.data),
                            second: ("b.npy", NPY.header(dtype: .float32, shape: [2, 2]) + b.data), secondAt: Self.hole)
        let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as! Int
        #expect(size > Self.hole)

        let model = try NPZ.read(from: url)
        #expect(model.spec.tensors.map(\.name) == ["a", "b"])
        #expect(try model.float32s("a") == [1, 2, 3])
        #expect(try model.float32s("b") == [-1, 0.5, 7, 8])

        // The directory itself reports the 64-bit offset of the second member.
        let file = try MappedFile(url: url)
        let directory = try ZIPDirectory(file.bytes)
        #expect(directory.entries[1].dataRange.lowerBound > Int(UInt32.max))
    }

    @Test func chunkPlanAndUploadHeadersOfA2Point4GBModel() throws {
        let spec = ModelSpec(tensors: [TensorSpec(name: "weights", dtype: .float32, shape: [600_000_000])])
        try spec.validate()
        #expect(spec.totalBytes == 2_400_000_000)
        let plan = ChunkPlan(spec: spec, chunkSize: ChunkPlan.defaultChunkSize)
        #expect(plan.count == 287)
        #expect(plan.chunks.last!.upperBound == 2_400_000_000)
        #expect(zip(plan.chunks, plan.chunks.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        #expect(plan.chunkIndex(containing: Int(Int32.max) + 5) == (Int(Int32.max) + 5) / ChunkPlan.defaultChunkSize)

        // A 6 GiB model: offsets past 2³² survive the spec's checks and the plan.
        let big = ModelSpec(tensors: [TensorSpec(name: "w", dtype: .float64, shape: [3, 268_435_456])])
        try big.validate()
        #expect(big.totalBytes == 6 << 30)
        #expect(ChunkPlan(spec: big, chunkSize: 16 << 20).chunks.last!.lowerBound == (6 << 30) - (16 << 20))
    }
}

/// Writes a ZIP64 archive of two stored members with the second one's local header at
/// `secondAt` (beyond 4 GiB), leaving a hole in between: the layout `np.savez` would give a
/// 4.5 GiB first member, without writing it.
enum SparseZip {
    static func write(to url: URL, first: (String, [UInt8]), second: (String, [UInt8]), secondAt: Int) throws {
        FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.write(contentsOf: localHeader(first.0, first.1) + first.1)
        try handle.seek(toOffset: UInt64(secondAt))
        let secondBytes = localHeader(second.0, second.1) + second.1
        try handle.write(contentsOf: secondBytes)
        let cdOffset = secondAt + secondBytes.count
        var cd = centralEntry(first.0, first.1, offset: 0)
        cd += centralEntry(second.0, second.1, offset: secondAt)
        var tail = cd
        // ZIP64 end record, its locator, then the classic record pointing at them.
        let zip64At = cdOffset + cd.count
        tail += le32(0x0606_4b50) + le64(44) + le16(45) + le16(45) + le32(0) + le32(0) + le64(2) + le64(2) + le64(cd.count) + le64(cdOffset)
        tail += le32(0x0706_4b50) + le32(0) + le64(zip64At) + le32(1)
        tail += le32(0x0605_4b50) + le16(0) + le16(0) + le16(2) + le16(2) + le32(cd.count) + le32(0xFFFF_FFFF) + le16(0)
        try handle.write(contentsOf: tail)
    }

    private static func localHeader(_ name: String, _ data: [UInt8]) -> [UInt8] {
        le32(0x0403_4b50) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0) + le32(crc32(data)) + le32(data.count) + le32(data.count)
            + le16(name.utf8.count) + le16(0) + Array(name.utf8)
    }

    /// A central directory entry; an offset past 32 bits goes in a ZIP64 extra field.
    private static func centralEntry(_ name: String, _ data: [UInt8], offset: Int) -> [UInt8] {
        let wide = offset > Int(UInt32.max) - 1
        let extra = wide ? le16(1) + le16(8) + le64(offset) : []
        return le32(0x0201_4b50) + le16(45) + le16(wide ? 45 : 20) + le16(0) + le16(0) + le16(0) + le16(0) + le32(crc32(data))
            + le32(data.count) + le32(data.count) + le16(name.utf8.count) + le16(extra.count) + le16(0) + le16(0) + le16(0) + le32(0)
            + le32(wide ? 0xFFFF_FFFF : offset) + Array(name.utf8) + extra
    }

    static func crc32(_ data: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    private static func le16(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt16(v).littleEndian) { Array($0) } }
    private static func le32(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(v).littleEndian) { Array($0) } }
    private static func le64(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt64(v).littleEndian) { Array($0) } }
    private static func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
}
