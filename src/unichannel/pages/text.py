"""The pages' words in each language they speak: Chinese (the default, for Chinese locations) and English."""

from __future__ import annotations

import string

from unichannel.errors import DomainError

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
        "wrong_sign_in": "手机号/邮箱或密码不对", "bad_staff_token": "员工令牌无效、已被撤销或已过期",
        "not_staff_token": "这不是员工令牌",
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
        "wrong_sign_in": "phone/email or password is wrong",
        "bad_staff_token": "this staff token is not valid, was revoked or has expired",
        "not_staff_token": "this is not a staff token",
    },
}


def words(locale: str) -> dict[str, str]:
    return WORDS.get(locale, WORDS[DEFAULT_LOCALE])


# --- a service's refusal, in the page's language ---------------------------------------------------------------------
#
# Services refuse with a DomainError: a stable `code`, an English `message` (the API's), the `field` at fault and
# the `details` the message was built from. A Chinese page says it with these sentences instead, keyed by code, or by
# (code, field) where every refusal of that code on that field means one thing. Each entry lists sentences from the
# most specific to the most general: the first whose placeholders the error's details fill is shown, so a figure or
# a SKU the error carries is kept; the last needs no detail. An unknown code falls back to the English message.

ErrorTexts = tuple[str, ...]

ERROR_TEXTS_ZH: dict[str, ErrorTexts] = {
    "bad_request": ("请求有误，请检查后重试",),
    "malformed_json": ("请求的内容不是有效的 JSON",),
    "payload_too_large": ("请求的内容太大了",),
    "invalid_input": ("填写的内容不符合要求，请检查后重试",),
    "not_found": ("没有找到，或您无权查看",),
    "unauthenticated": ("尚未登录或登录已失效，请重新登录",),
    "forbidden": ("您没有权限进行这个操作",),
    "conflict": ("数据刚刚被修改过，请刷新页面后重试",),
    "already_exists": ("已经存在，不能重复创建",),
    "ambiguous_code": ("多个商家使用这个编码，请扫描商品条码或指明商家",),
    "insufficient_stock": ("库存不足：只有 {available} 件未被占用，不能减少 {asked} 件",
                           "库存不足：批次 {lot} 只剩 {remaining} 件",
                           "库存不足：只有 {available} 件未被占用",
                           "库存不足"),
    "sold_out": ("已售罄：可供货的地点都没有足够的库存",),
    "not_started": ("活动还没有开始",),
    "not_participating": ("本店没有参加这个活动",),
    "limit_exceeded": ("已达到每人限购数量",),
    "cannot_fulfil": ("现在无法以这种方式交付（库存、距离或营业时间），请重新选择配送方式",),
    "expired_stock": ("{sku} 在这里只有 {fresh} 件在保质期内（需要 {wanted} 件；{expired} 件已过期，"
                      "不会发出），请先报损",
                      "部分库存已过保质期，不会发出；请先报损"),
    "wrong_pickup_code": ("取件码不对，包裹仍留在原处",),
    "return_window_closed": ("签收后 {days} 天内可以退货，已超过期限", "已超过退货期限"),
    "reservation_expired": ("为这笔订单保留的库存已过保留时间；如已付款，款项会退回",),
    "illegal_transition": ("当前状态下不能进行这个操作",),
    "idempotency_key_reused": ("这个请求已经以不同的内容提交过；请刷新页面后重试",),
    "empty_cart": ("购物车是空的",),
    "price_unavailable": ("{sku} 没有 {currency} 价格，暂时不能购买", "这个商品在此渠道没有定价，暂时不能购买"),
    "currency_mismatch": ("币种不一致，不能合计",),
    "payment_declined": ("支付没有被接受，没有扣款",),
    "cash_only_at_till": ("现金只能由订单所属门店的店员在收银台收取或退还；请用银行卡支付",),
    "refund_exceeds_captured": ("退款金额超过了已收款且尚未退还的金额",),
    "already_captured": ("这笔订单已经付过款",),
    "payment_in_progress": ("这笔订单的另一笔支付正在处理中；这次没有扣款",),
    "invalid_signature": ("签名无效",),
    "unknown_payment": ("还没有这笔支付的记录，稍后会重试",),
    "service_unavailable": ("服务暂时不可用，没有写入任何数据，请稍后重试",),
    "gateway_unavailable": ("支付服务暂时没有响应，没有扣款，请重试",),
    "batch_failed": ("这次请求所在的批次处理失败，没有写入任何数据，请重试",),
}

FIELD_ERROR_TEXTS_ZH: dict[tuple[str, str], ErrorTexts] = {
    ("invalid_input", "quantity"): ("数量须为 1 到 {maximum} 之间的整数", "数量须为正整数，且不超过上限"),
    ("invalid_input", "delta"): ("变动数量须为非零整数，一次最多 {maximum} 件", "变动数量须为非零整数，且不超过上限"),
    ("invalid_input", "reason"): ("请写明原因",),
    ("invalid_input", "phone"): ("请填写正确的手机号，例如 +8613800001111",),
    ("invalid_input", "email"): ("请填写正确的邮箱地址",),
    ("invalid_input", "password"): ("密码不符合要求",),
    ("invalid_input", "currency"): ("币种不对或不受支持：请填写 ISO 4217 币种代码，例如 CNY",),
    ("invalid_input", "amount"): ("价格格式不对：请填写不为负的金额，例如 99.00，小数位数不超过币种允许的位数",),
    ("invalid_input", "file"): ("文件名含有控制字符 {character}，请给文件改名后重新上传",
                                "文件无法读取：请上传 UTF-8 编码、不超过 20 MB 的 CSV 文件"),
    ("invalid_input", "latitude"): ("位置坐标不对：纬度须在 -90 到 90 之间，经度须在 -180 到 180 之间，且成对填写",),
    ("invalid_input", "longitude"): ("位置坐标不对：纬度须在 -90 到 90 之间，经度须在 -180 到 180 之间，且成对填写",),
    ("invalid_input", "option"): ("请选择送达方式",),
    ("invalid_input", "name"): ("送货上门需要填写此项",),
    ("invalid_input", "line1"): ("送货上门需要填写此项",),
    ("invalid_input", "city"): ("送货上门需要填写此项",),
    ("invalid_input", "code"): ("无法识别这个条码或二维码",),
    ("invalid_input", "lines"): ("{sku} 已停售，请从购物车中删除", "商品明细不符合要求"),
    ("invalid_input", "to_location_id"): ("调出和调入须是两个不同的地点",),
    ("invalid_input", "lot_code"): ("这里的部分库存按批次管理，请注明批次",),
    ("invalid_input", "delivery.address"): ("收货地址不完整，或不在服务范围内",),
    ("invalid_input", "delivery.address.latitude"): ("30分钟达需要收货地址的位置坐标",),
    ("invalid_input", "delivery.location_id"): ("请选择一家可用的门店或服务站",),
    ("invalid_input", "customer_id"): ("请先识别会员",),
    ("invalid_input", "token"): ("没有收到 {gateway} 返回的银行卡信息，请重新填写银行卡", "请填写银行卡信息"),
    ("invalid_input", "body"): ("提交的内容含有无效字符（NUL）",),
    ("invalid_input", "query"): ("网址中含有无效字符（NUL）",),
    ("not_found", "sku"): ("没有这个商品，或已下架",),
    ("not_found", "code"): ("没有这个条码或 SKU 的商品",),
    ("not_found", "variant_id"): ("没有这个 SKU",),
    ("not_found", "product_id"): ("没有这个商品",),
    ("not_found", "customer_id"): ("没有这位会员",),
    ("not_found", "location_id"): ("没有这个门店或仓库",),
    ("not_found", "from_location_id"): ("没有这个门店或仓库",),
    ("not_found", "to_location_id"): ("没有这个门店或仓库",),
    ("not_found", "merchant"): ("没有这个商家",),
    ("not_found", "order_id"): ("没有这个订单",),
    ("not_found", "line_id"): ("购物车里没有这一行",),
    ("not_found", "lot_code"): ("这里没有这个批次",),
    ("already_exists", "sku"): ("SKU {sku} 已属于这个商家的另一个商品", "这个 SKU 已属于这个商家的另一个商品"),
}

ERROR_TEXTS: dict[str, tuple[dict[str, ErrorTexts], dict[tuple[str, str], ErrorTexts]]] = {
    "zh_CN": (ERROR_TEXTS_ZH, FIELD_ERROR_TEXTS_ZH),
}


def _placeholders(sentence: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(sentence) if name}


def error_text(locale: str, error: DomainError) -> str:
    """What a page in `locale` says for a service's refusal: the sentence for its code (and field) filled with the
    figures it carries, or its own English message on an English page or for a code with no sentence here."""
    tables = ERROR_TEXTS.get(locale)
    if tables is None:
        return error.message
    by_code, by_field = tables
    sentences = by_field.get((error.code, error.field or "")) or by_code.get(error.code)
    if not sentences:
        return error.message
    for sentence in sentences:
        if _placeholders(sentence) <= error.details.keys():
            return sentence.format(**error.details)
    return error.message  # unreachable while each entry ends with a sentence that needs no detail (a unit test checks)
