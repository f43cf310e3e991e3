"""The pages' words in each language they speak: Chinese (the default, for Chinese locations) and English."""

from __future__ import annotations

LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"

WORDS: dict[str, dict[str, str]] = {
    "zh_CN": {
        "shop": "优选商城", "search": "搜索", "search_placeholder": "搜索商品、品牌", "all": "全部",
        "no_results": "没有找到商品", "available_total": "共 {n} 件可售", "sold_out": "已售罄",
        "left_at": "{place} 剩 {n} 件", "express": "30分钟达", "ships_in_days": "1–3 天送达",
        "station": "乡村服务站", "choose": "规格", "price": "价格", "availability": "库存",
        "scan_to_cart": "扫码加入购物车", "live": "实时", "screen_title": "双11 实时大屏", "gmv": "成交额 GMV",
        "orders": "订单", "orders_per_second": "每秒订单", "by_channel": "渠道", "by_region": "地区",
        "top_skus": "热销商品", "sold_out_list": "已售罄", "online": "线上", "other_currencies": "其他币种",
        "sign_in": "登录", "sign_out": "退出", "member_id": "手机号或邮箱", "password": "密码",
        "staff_token": "员工令牌", "staff_sign_in": "员工登录", "operator_only": "大屏仅限平台运营人员，请先登录。",
        "language": "English", "units": "件", "add_to_cart": "加入购物车", "cart": "购物车", "my_orders": "我的订单",
    },
    "en": {
        "shop": "unichannel shop", "search": "Search", "search_placeholder": "Search products and brands",
        "all": "All", "no_results": "No products found", "available_total": "{n} available", "sold_out": "Sold out",
        "left_at": "{n} left at {place}", "express": "30-minute delivery", "ships_in_days": "delivered in 1–3 days",
        "station": "village station", "choose": "Option", "price": "Price", "availability": "Availability",
        "scan_to_cart": "Scan to add to your cart", "live": "live", "screen_title": "11.11 live",
        "gmv": "GMV", "orders": "Orders", "orders_per_second": "Orders per second", "by_channel": "By channel",
        "by_region": "By region", "top_skus": "Top SKUs", "sold_out_list": "Sold out", "online": "Online",
        "other_currencies": "Other currencies", "sign_in": "Sign in", "sign_out": "Sign out",
        "member_id": "Phone or email", "password": "Password", "staff_token": "Staff token",
        "staff_sign_in": "Staff sign-in", "operator_only": "The big screen is for platform operators: sign in first.",
        "language": "中文", "units": "units", "add_to_cart": "Add to cart", "cart": "Cart", "my_orders": "My orders",
    },
}


def words(locale: str) -> dict[str, str]:
    return WORDS.get(locale, WORDS[DEFAULT_LOCALE])
