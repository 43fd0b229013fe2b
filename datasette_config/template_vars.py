"""Functions the site's templates call (Datasette's ``extra_template_vars``):
Chinese labels, titles, the filter form's offer, export links, charts, error texts."""

from urllib.parse import quote, urlencode

from . import charts, labels, limits

LOOKUP_NAMES = {
    "exact": "等于 =", "not": "不等于 ≠", "contains": "包含", "endswith": "结尾是", "startswith": "开头是",
    "gt": "大于 >", "gte": "不小于 ≥", "lt": "小于 <", "lte": "不大于 ≤", "like": "匹配 like",
    "notlike": "不匹配 not like", "glob": "通配 glob", "in": "属于 (逗号分隔)", "notin": "不属于",
    "arraycontains": "数组包含", "arraynotcontains": "数组不包含", "date": "日期为",
    "isnull": "为空", "notnull": "不为空", "isblank": "为空白", "notblank": "不为空白",
}
ERRORS = {
    400: ("请求有误 (400)", "这个请求无法处理, 请检查筛选条件。"),
    403: ("禁止访问 (403)", "您无权查看此页面。营业部用户只能查看本营业部的客户及记录。"),
    404: ("页面不存在 (404)", "没有找到这个页面或记录。"),
    500: ("系统错误 (500)", "页面生成时出错, 已记录; 请稍后再试或联系总部管理员。"),
}


def error_title(status):
    return ERRORS.get(status, (f"错误 ({status})", ""))[0]


def error_text(status, error=None):
    # Datasette's own messages are English and may name internals: the page says what it means in Chinese.
    return ERRORS.get(status, ("", "请求无法完成 (the request could not be completed)."))[1]


def export_url(database, name, fmt, request):
    query = request.query_string if request is not None else ""
    return f"/-/export/{quote(database)}/{quote(name)}.{fmt}" + (f"?{query}" if query else "")


def make(datasette, database, table, config):
    """The template variables for one page."""
    big = limits.big_rules(config, database, table) if database and table else None

    def label(column):
        return labels.column_label(table, column) if table else column

    def db_title(name):
        meta = datasette.metadata(database=name, fallback=False) or {}
        return meta.get("title") or name

    def table_title(db, name):
        meta = datasette.metadata(database=db, fallback=False) or {}
        info = meta.get("tables", {}).get(name) or meta.get("queries", {}).get(name) or {}
        return info.get("title") or name

    def filter_columns(columns):
        if big is None:
            return list(columns)
        return [c for c in columns if c in big["filter"]]

    def lookups(pairs):
        allowed = limits.BIG_LOOKUPS if big is not None else None
        return [(key, LOOKUP_NAMES.get(key, display), no_arg) for key, display, no_arg in pairs
                if allowed is None or key in allowed]

    def facet_values(facet_info):
        out = []
        for value in facet_info["results"]:
            text = labels.enum_label(facet_info["name"], value["value"]) or value.get("label") or value["value"]
            out.append({**value, "bc_text": "(空)" if text in (None, "") else text})
        return out

    async def chart(db, query, columns, rows):
        meta = (datasette.metadata(database=db, fallback=False) or {}).get("queries", {}).get(query) or {}
        spec = meta.get("bc_chart")
        if not spec or not rows:
            return None
        result = await datasette.get_database(db).execute(meta["sql"])
        return charts.bar_chart([dict(r) for r in result.rows], spec["x"], spec["y"], spec.get("color"),
                                title=meta.get("title", ""))

    note = None
    if big is not None:
        names = "、".join(labels.column_label(table, c) for c in big["filter"]) or "无"
        note = (f"此表较大: 只能按已建索引的列筛选 ({names}), 条件为等于或大小比较; "
                "需要其他统计请看首页的报表。")
    return {
        "bc_label": label, "bc_db_title": db_title, "bc_table_title": table_title,
        "bc_filter_columns": filter_columns, "bc_lookups": lookups,
        "bc_lookup_name": lambda key: LOOKUP_NAMES.get(key, key), "bc_big_note": note,
        "bc_export_url": export_url, "bc_chart": chart, "bc_facet_values": facet_values,
        "bc_date": lambda v: labels.chinese_date(v) or v,
        "bc_error_title": error_title, "bc_error_text": error_text,
        "bc_urlencode": urlencode,
    }
