import Testing
@testable import TributaryClient

@Suite struct DigitsDatasetTests {
    @Test func loadsBundledDigits() throws {
        let d = try DigitsDataset.load()
        #expect(d.count == 1_797)
        #expect(d.featureCount == 64)
        #expect(d.features.count == 1_797 * 64)
        #expect(Set(d.labels) == Set(0..<10))
        #expect(d.features.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(d.features.contains(1))  // 16 / 16
    }

    @Test func malformedLineNamesTheLine() {
        let good = Array(repeating: "0", count: 64).joined(separator: ",") + ",3"
        let cases = [
            good + "\n1,2,3\n",
            good + "\n" + Array(repeating: "0", count: 64).joined(separator: ",") + ",x\n",
            good + "\n" + Array(repeating: "17", count: 64).joined(separator: ",") + ",1\n",
            good + "\n" + Array(repeating: "0", count: 64).joined(separator: ",") + ",10\n",
        ]
        for text in cases {
            #expect {
                _ = try DigitsDataset.parse(text, source: "t.csv")
            } throws: { error in
                let e = error as? TrainerError
                return e?.kind == .invalidData && e?.description.contains("t.csv line 2") == true
            }
        }
    }

    @Test func parsesCRLFAndSkipsBlankLines() throws {
        let row = Array(repeating: "8", count: 64).joined(separator: ",") + ",9"
        let d = try DigitsDataset.parse(row + "\r\n\r\n" + row + "\r\n")
        #expect(d.count == 2)
        #expect(d.labels == [9, 9])
        #expect(d.features.allSatisfy { $0 == 0.5 })
    }

    @Test func emptyInputIsAnError() {
        #expect(throws: TrainerError.self) { _ = try DigitsDataset.parse("\n\n") }
    }

    @Test func subsetPicksRowsInOrder() throws {
        let d = try DigitsDataset.load()
        let s = d.subset([5, 0])
        #expect(s.labels == [d.labels[5], d.labels[0]])
        #expect(Array(s.features[0..<64]) == Array(d.features[(5 * 64)..<(6 * 64)]))
    }
}
