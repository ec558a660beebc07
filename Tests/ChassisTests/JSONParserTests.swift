@testable import Chassis
import Foundation
import Testing

/// The hand-written parser must read exactly what Foundation reads, and refuse what it refuses.
@Suite struct JSONParserTests {
    static let documents = [
        #"{"price":"20000","startDay":"20210624","customer":"andy","status":"approve"}"#,
        #" { "a" : [ 1, -2.5, 3e2, 0, -0.0, 1E-3, true, false, null ], "b" : { } , "c": [] } "#,
        #"{"quote":"say \"hi\"","slash":"a\/b","escapes":"\b\f\n\r\t\\","unicode":"\u00e9\uD83D\uDE00 \u20AC"}"#,
        #"{"korean":"렌탈 예약","emoji":"⛺️","big":9007199254740993,"small":-1.5e-300}"#,
        #"[[[["deep"]]],{"x":{"y":{"z":1}}}]"#,
        "\"just a string\"", "42", "null",
    ]

    @Test(arguments: documents) func readsWhatFoundationReads(_ text: String) throws {
        let data = Data(text.utf8)
        #expect(try JSONParser.parse(data) == JSONDecoder().decode(JSONValue.self, from: data))
    }

    static let malformed = [
        "", "{", #"{"a":1,}"#, #"{"a" 1}"#, "[1,]", "[1 2]", "01", "1.", "-", "1e", ".5", "+1", "tru", "nul",
        #"{"a":1} x"#, "\"unterminated", "\"bad \\x escape\"", "\"\\u12G4\"", "\"lone \\uD800\"", "\"tab\there\"",
        #"{a:1}"#, "'single'", "NaN", "1e999",
        String(repeating: "[", count: 300) + String(repeating: "]", count: 300),
    ]

    @Test(arguments: malformed) func refusesMalformedText(_ text: String) {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(Data(text.utf8)) }
    }

    @Test func aRepeatedKeyKeepsItsLastValue() throws {
        #expect(try JSONParser.parse(Data(#"{"a":1,"a":2}"#.utf8)) == ["a": 2])
    }
}

@Suite struct RandomIDTests {
    @Test func isAVersion4UUIDInLowerCase() throws {
        let ids = (0..<1000).map { _ in RandomID.uuid() }
        #expect(Set(ids).count == ids.count)
        for id in ids.prefix(50) {
            let parsed = try #require(UUID(uuidString: id))
            #expect(parsed.uuidString.lowercased() == id)
            let characters = Array(id)
            #expect(characters[14] == "4" && "89ab".contains(characters[19]), "\(id)")
        }
    }
}

/// The direct writer must write exactly the bytes Foundation's encoder writes.
@Suite struct JSONWriterTests {
    static func foundation(_ value: JSONValue) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    @Test(arguments: JSONParserTests.documents + [
        #"{"b":1,"a":2,"B":3,"_x":4,"a10":5,"a9":6,"Z":7,"é":8,"e":9,"aB":11,"ab":12,"$":13,"":0}"#,
        #"[20000,1.5,0.1,1e300,-0.0,0,123456789012345,999999999999999,1e15,1e16,9007199254740993,1e-7,1e20,-3.25,2.5e-308]"#,
        #"["a/b\u0001\u001f\n\t\r\b\f\"\\ é \u007f \u2028 ⛺️"]"#,
        #"{"_links":{"self":{"href":"http://localhost:8080/reserves/1"}},"page":{"size":20,"totalElements":0}}"#,
    ])
    func writesWhatFoundationWrites(_ text: String) throws {
        let value = try JSONParser.parse(Data(text.utf8))
        let written = try JSONWriter.write(value)
        let (mine, theirs) = (String(decoding: written, as: UTF8.self), String(decoding: try Self.foundation(value), as: UTF8.self))
        #expect(mine == theirs)
        #expect(try JSONParser.parse(written) == value)
    }

    @Test func refusesNumbersJSONCannotHold() {
        #expect(throws: JSONWriter.InvalidNumber.self) { try JSONWriter.write(.array([.number(.nan)])) }
        #expect(throws: JSONWriter.InvalidNumber.self) { try JSONWriter.write(.number(.infinity)) }
    }
}
