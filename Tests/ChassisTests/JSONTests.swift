import Chassis
import Foundation
import Testing

/// Lenient decoding as Spring's Jackson does it, and merge patches.
@Suite struct JSONTests {
    struct Rental: Codable, Equatable {
        var price: Int
        var customer: String
        var days: Int?
    }

    struct Order: Codable, Equatable {
        var rental: Rental
        var quantities: [Int]
    }

    func decode<T: Decodable>(_ type: T.Type = Rental.self, _ text: String) throws -> T {
        try JSON.decode(T.self, from: Data(text.utf8))
    }

    @Test func numericStringsAreAcceptedForIntegerFields() throws {
        let rental = try decode(Rental.self, #"{"price": "20000", "customer": "andy", "days": " 3 "}"#)
        #expect(rental == Rental(price: 20000, customer: "andy", days: 3))
    }

    @Test func numbersAreAcceptedForStringFields() throws {
        let rental = try decode(Rental.self, #"{"price": 1, "customer": 42}"#)
        #expect(rental.customer == "42")
    }

    @Test func nestedFieldsAndArrayElementsAreCoercedToo() throws {
        let order = try decode(Order.self, #"{"rental": {"price": "5", "customer": 7}, "quantities": ["1", 2, "3"]}"#)
        #expect(order == Order(rental: Rental(price: 5, customer: "7"), quantities: [1, 2, 3]))
    }

    @Test func unknownFieldsAreIgnored() throws {
        let rental = try decode(Rental.self, #"{"price": 1, "customer": "c", "_links": {"self": {}}, "extra": [1]}"#)
        #expect(rental == Rental(price: 1, customer: "c"))
    }

    @Test func nullForAnOptionalFieldIsNil() throws {
        #expect(try decode(Rental.self, #"{"price": 1, "customer": "c", "days": null}"#).days == nil)
    }

    @Suite struct Refusals {
        func refusal(_ text: String) -> Refusal? {
            #expect(throws: Refusal.self) { try JSON.decode(Rental.self, from: Data(text.utf8)) }
        }

        @Test func aMissingFieldIsABadRequestNamingIt() {
            let refusal = refusal(#"{"customer": "andy"}"#)
            #expect(refusal?.status == 400)
            #expect(refusal?.field == "price")
            #expect(refusal?.message.contains("price") == true)
        }

        @Test func aNonNumericStringForAnIntegerIsABadRequestNamingTheField() {
            let refusal = refusal(#"{"price": "cheap", "customer": "andy"}"#)
            #expect(refusal?.status == 400)
            #expect(refusal?.field == "price")
            #expect(refusal?.message.contains("price") == true)
        }

        @Test func aFractionForAnIntegerIsABadRequestNamingTheField() {
            let refusal = refusal(#"{"price": "12.5", "customer": "andy"}"#)
            #expect(refusal?.status == 400)
            #expect(refusal?.field == "price")
        }

        @Test func aFractionalNumberForAnIntegerIsABadRequestNamingTheField() {
            let refusal = refusal(#"{"price": 12.5, "customer": "andy"}"#)
            #expect(refusal?.status == 400)
            #expect(refusal?.field == "price")
        }

        @Test func anObjectForAStringIsABadRequestNamingTheField() {
            let refusal = refusal(#"{"price": 1, "customer": {"name": "andy"}}"#)
            #expect(refusal?.field == "customer")
        }

        @Test func malformedJSONIsABadRequest() {
            let refusal = refusal(#"{"price": 1, "customer": "#)
            #expect(refusal?.status == 400)
            #expect(refusal?.message.contains("malformed JSON") == true)
        }

        @Test func aBodyThatIsNotAnObjectIsABadRequest() {
            #expect(refusal("[1, 2]")?.status == 400)
        }

        /// Numeric strings follow JSON's number syntax: no hexadecimal, no infinities, no
        /// NaN, nothing beyond a double (these were 500s, or 201 with `"0x4E20"` as 20000).
        @Test(arguments: ["1e309", "-1e309", "Infinity", "-Infinity", "inf", "NaN", "nan", "0x4E20", "+5", "01", "1.", ".5", "1e", "1_000", "", " ", "5 5"])
        func aStringThatIsNoJSONNumberIsABadRequestNamingTheField(_ text: String) {
            let refusal = refusal(#"{"price": "\#(text)", "customer": "andy"}"#)
            #expect(refusal?.status == 400)
            #expect(refusal?.field == "price")
        }

        @Test(arguments: ["1e309", "-1e309", "Infinity", "NaN", "0x4E20"])
        func theSameStringsForAFloatingPointFieldAreRefusedToo(_ text: String) {
            let refusal = #expect(throws: Refusal.self) { try JSON.decode(Rate.self, from: Data(#"{"rate": "\#(text)"}"#.utf8)) }
            #expect(refusal?.status == 400)
            #expect(refusal?.field == "rate")
        }

        @Test func aNumberBeyondTheFieldsTypeIsABadRequestNamingTheField() {
            for text in [#""1e20""#, "1e20", #""-9.3e18""#] {
                let refusal = refusal(#"{"price": \#(text), "customer": "andy"}"#)
                #expect(refusal?.status == 400, "\(text)")
                #expect(refusal?.field == "price", "\(text)")
            }
        }

        @Test func aLiteralBeyondADoubleIsABadRequest() {
            #expect(refusal(#"{"price": 1e309, "customer": "andy"}"#)?.status == 400)
        }
    }

    struct Rate: Codable, Equatable { var rate: Double }

    @Test func numericStringsInJSONSyntaxAreAcceptedForFloatingPointFields() throws {
        for (text, value) in [("0", 0.0), ("-0", 0), ("12.5", 12.5), ("1e3", 1000), ("1E+3", 1000), ("-1.5e-3", -0.0015), (" 20 ", 20)] {
            #expect(try decode(Rate.self, #"{"rate": "\#(text)"}"#) == Rate(rate: value), "\(text)")
        }
    }

    @Suite struct MergePatch {
        let stored: JSONValue = ["price": 100, "customer": "andy", "period": ["start": "2024-01-01", "end": "2024-01-05"]]

        @Test func patchedFieldsReplaceAndOthersStay() {
            let merged = stored.merged(with: ["price": 120, "status": "PAID"])
            #expect(merged == ["price": 120, "customer": "andy", "status": "PAID",
                               "period": ["start": "2024-01-01", "end": "2024-01-05"]])
        }

        @Test func nestedObjectsMergeFieldByField() {
            let merged = stored.merged(with: ["period": ["end": "2024-01-09"]])
            #expect(merged["period"] == ["start": "2024-01-01", "end": "2024-01-09"])
        }

        @Test func nullRemovesAField() throws {
            let merged = stored.merged(with: ["customer": nil, "period": ["start": nil]])
            #expect(merged == ["price": 100, "period": ["end": "2024-01-05"]])
        }

        @Test func anObjectPatchOnAMissingFieldKeepsNoNulls() {
            #expect(stored.merged(with: ["extra": ["a": 1, "b": nil]])["extra"] == ["a": 1])
        }

        @Test func aPatchThatIsNotAnObjectReplacesTheWhole() {
            #expect(stored.merged(with: [1, 2]) == [1, 2])
        }
    }
}
