import Chassis

/// The seed's own bodies, as httpie sends them (numbers as strings): the one copy the
/// scenario, the benchmark and the tests use.
public enum ShopSeed {
    /// An order, paid as it is placed. The seed never printed its `POST /orders`; these
    /// are its `Order` fields, with the customer of its `POST /ordermgmts`.
    public static func order(username: String = "HanYongSun", productId: String = "1", productName: String = "ITbook", productPrice: Int = 20000,
                             qty: Int = 1, userId: String = "hanys") -> JSONValue {
        ["username": .string(username), "address": "kyungkido sungnamsi", "phoneNo": "01012341234", "productId": .string(productId),
         "productName": .string(productName), "productPrice": .string(String(productPrice)), "qty": .string(String(qty)), "userId": .string(userId)]
    }

    /// `http localhost:8082/ordermgmts orderId=1 itemId=1 itemName="ITbook" qty=1 customerName="HanYongSun"
    /// deliveryAddress="kyungkido sungnamsi" deliveryPhoneNumber="01012341234" orderStatus="order"`
    public static func orderMgmt(orderId: Int64 = 1) -> JSONValue {
        ["orderId": .string(String(orderId)), "itemId": "1", "itemName": "ITbook", "qty": "1", "customerName": "HanYongSun",
         "deliveryAddress": "kyungkido sungnamsi", "deliveryPhoneNumber": "01012341234", "orderStatus": "order"]
    }

    /// `http PATCH localhost:8088/orders/5 orderStatus="orderCanceled"`
    public static let cancel: JSONValue = ["orderStatus": "orderCanceled"]
}
