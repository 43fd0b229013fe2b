"""What a big table (over SMALL_TABLE_ROWS rows in its snapshot) may be asked:
filters and sorts that an index answers, nothing else.

The filter form offers exactly this (template_vars), the path gate refuses the
rest with a Chinese page naming what is offered (site_plugin), and the export
accepts the same (export). Which columns are indexed comes from publish's
manifest, so an index added at publish is offered at once.
"""

from urllib.parse import parse_qsl, urlencode

# Operators an index on the column answers in order: equality and ranges.
BIG_LOOKUPS = ("exact", "gt", "gte", "lt", "lte")
RANGE_LOOKUPS = ("gt", "gte", "lt", "lte")
# Query-string keys that are not filters and cost nothing extra.
HARMLESS = {"_next", "_size", "_shape", "_nocount", "_nofacet", "_labels", "_nl", "_json", "_col", "_nocol",
            "_sort_by_desc", "_dl", "_facet_size", "_trace", "_timelimit", "_extra"}


def big_rules(config, database, table):
    """{"filter": [...], "sort": [...]} for a big table, None for a small one."""
    return config.get("databases", {}).get(database, {}).get("big", {}).get(table)


def check(rules, query_string):
    """None when a big table may answer ``query_string``; else (reason, redirect_query or None).

    A range filter without a sort is sent on sorted by that column: "WHERE c > ?
    ORDER BY c" walks the index in order, where "ORDER BY key" may sort every match.
    """
    pairs = parse_qsl(query_string or "", keep_blank_values=True)
    sorts = [v for k, v in pairs if k in ("_sort", "_sort_desc")]
    for value in sorts:
        if value not in rules["sort"]:
            return f"不能按此列排序 (not sortable here): {value}", None
    range_column = None
    for key, value in pairs:
        if key.startswith("_"):
            if key in ("_sort", "_sort_desc") or key in HARMLESS or key.startswith("_filter_"):
                continue
            if key in ("_facet", "_where", "_search", "_fts_table", "_through", "_ttl", "_stream"):
                return f"大表不支持此参数 (not on a big table): {key}", None
            continue
        column, _, lookup = key.partition("__")
        lookup = lookup or "exact"
        if column not in rules["filter"]:
            return f"此列未建索引, 不能筛选 (not indexed): {column}", None
        if lookup not in BIG_LOOKUPS:
            return f"大表只能用等于或大小比较 (only =, >, ≥, <, ≤ on a big table): {lookup}", None
        if lookup in RANGE_LOOKUPS:
            if range_column not in (None, column):
                return "大表只能对一列做范围筛选 (one range filter at a time)", None
            range_column = column
    if range_column and not sorts:
        if range_column in rules["sort"]:
            return "按范围筛选的列排序 (sorted by the range column)", urlencode_pairs(pairs + [("_sort", range_column)])
        return f"此列不能做范围筛选 (no range filter on this column): {range_column}", None
    if range_column and sorts and sorts[0] != range_column:
        return "范围筛选时只能按该列排序 (a range filter sorts by its own column)", None
    return None


def uncounted(query_string):
    """``query_string`` with ``_nocount=1`` when it filters a big table, else None.

    Datasette counts the filtered rows of every page: on a big table that is a walk over
    every matching index entry (2.7 million for one habit at 10M clients, 216 ms), where
    the page itself takes a millisecond. The page says the rows are not counted instead
    (table.html); an unfiltered table's count comes from the publish's inspect data.
    """
    pairs = parse_qsl(query_string or "", keep_blank_values=True)
    if any(k == "_nocount" for k, _ in pairs) or not any(not k.startswith("_") for k, _ in pairs):
        return None
    return urlencode_pairs(pairs + [("_nocount", "1")])


def urlencode_pairs(pairs):
    return urlencode(pairs)
