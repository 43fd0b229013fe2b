"""The rule language (brokercrm.rules): conditions as data, compiled to SQL that SQLite runs.

Plugin authors and head office write these trees; the tests run each compiled
condition against a real table, so what is checked is which rows match, not
the text of the SQL.
"""

import sqlite3

import pytest

from brokercrm.kernel.errors import PolicyError
from brokercrm.kernel.rules import COMPARISONS, compile_condition

ROWS = [
    # id, kind, assets, occupation, city
    (1, "individual", 50_000, "教师", "太原"),
    (2, "individual", 2_000_000, "工程师", None),
    (3, "institution", 9_000_000, None, "北京"),
    (4, "individual", 1_000_000, "教师", "北京"),
]
FIELDS = {"kind": "c.kind", "assets": "c.assets", "occupation": "c.occupation", "city": "c.city"}


@pytest.fixture(scope="module")
def conn():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE c (id INTEGER, kind TEXT, assets REAL, occupation TEXT, city TEXT)")
    conn.executemany("INSERT INTO c VALUES (?, ?, ?, ?, ?)", ROWS)
    return conn


def matching(conn, cond, fields=FIELDS):
    sql, params = compile_condition(cond, fields)
    return [r[0] for r in conn.execute(f"SELECT id FROM c WHERE {sql} ORDER BY id", params)]


@pytest.mark.parametrize("op,value,expected", [
    ("=", "individual", [1, 2, 4]), ("==", "individual", [1, 2, 4]), ("!=", "individual", [3]),
    ("<", 1_000_000, [1]), ("<=", 1_000_000, [1, 4]), (">", 1_000_000, [2, 3]), (">=", 1_000_000, [2, 3, 4]),
])
def test_comparisons(conn, op, value, expected):
    field = "kind" if isinstance(value, str) else "assets"
    assert matching(conn, {"field": field, "op": op, "value": value}) == expected


def test_every_comparison_is_tested():
    assert set(COMPARISONS) == {"=", "==", "!=", "<", "<=", ">", ">="}


def test_membership_and_nulls(conn):
    assert matching(conn, {"field": "city", "op": "in", "value": ["北京", "上海"]}) == [3, 4]
    assert matching(conn, {"field": "city", "op": "not in", "value": ["北京"]}) == [1]  # NULL is in no list
    assert matching(conn, {"field": "occupation", "op": "is null"}) == [3]
    assert matching(conn, {"field": "occupation", "op": "is not null"}) == [1, 2, 4]


def test_values_are_parameters_never_sql(conn):
    sql, params = compile_condition({"field": "kind", "op": "=", "value": "x' OR '1'='1"}, FIELDS)
    assert "OR" not in sql and params == ["x' OR '1'='1"]
    assert matching(conn, {"field": "kind", "op": "=", "value": "x' OR '1'='1"}) == []


def test_any_all_not_nest(conn):
    teacher = {"field": "occupation", "op": "=", "value": "教师"}
    rich = {"field": "assets", "op": ">=", "value": 1_000_000}
    assert matching(conn, {"all": [teacher, rich]}) == [4]
    assert matching(conn, {"any": [teacher, rich]}) == [1, 2, 3, 4]
    assert matching(conn, {"not": rich}) == [1]
    assert matching(conn, {"any": [{"all": [teacher, {"not": rich}]}, {"field": "kind", "op": "=",
                                                                      "value": "institution"}]}) == [1, 3]


def test_parameters_follow_the_reordered_parts(conn):
    # Cheap parts are moved first (SQLite stops early); their parameters must move with them.
    costly = {"field": "city_len", "op": ">", "value": 1}
    cheap = {"field": "kind", "op": "=", "value": "individual"}
    fields = {**FIELDS, "city_len": "length(trim(c.city))"}
    sql, params = compile_condition({"all": [costly, cheap]}, fields)
    assert sql.index("c.kind") < sql.index("length") and params == ["individual", 1]
    assert matching(conn, {"all": [costly, cheap]}, fields) == [1, 4]  # parameters swapped would match none


def test_a_field_may_offer_a_cheaper_comparison(conn):
    class Assets(str):
        def compare(self, op, value):
            return (f"c.assets {op} ? * 2", [value / 2]) if op == ">" else None

    fields = {**FIELDS, "assets": Assets("c.assets")}
    sql, params = compile_condition({"field": "assets", "op": ">", "value": 2_000_000}, fields)
    assert sql == "c.assets > ? * 2" and params == [1_000_000]
    assert matching(conn, {"field": "assets", "op": "<", "value": 100_000}, fields) == [1]  # None: the plain form


@pytest.mark.parametrize("cond,message", [
    ([], r"rule: must be a table \(dict\), got list"),
    ({"any": [], "all": []}, r"rule: use one of any/all/not per condition"),
    ({"any": []}, r"rule\.any: must be a non-empty list"),
    ({"all": {"field": "kind"}}, r"rule\.all: must be a non-empty list"),
    ({"field": "shoe_size", "op": "=", "value": 1}, r"rule\.field: unknown field 'shoe_size'; known: assets, city"),
    ({"field": "kind", "op": "=", "value": True}, r"rule\.value: = needs a number or a text value"),
    ({"field": "kind", "op": "=", "value": ["a"]}, r"rule\.value: = needs a number or a text value"),
    ({"field": "kind", "op": "in", "value": []}, r"rule\.value: 'in' needs a non-empty list"),
    ({"field": "kind", "op": "in", "value": "individual"}, r"rule\.value: 'in' needs a non-empty list"),
    ({"field": "kind", "op": "like", "value": "%"}, r"rule\.op: unknown operator 'like'; use one of =, ==, !="),
    ({"all": [{"field": "kind", "op": "=", "value": "x"}, {"not": {"field": "kind", "op": "~"}}]},
     r"rule\.all\[1\]\.not\.op: unknown operator"),
])
def test_bad_conditions_name_the_place(cond, message):
    with pytest.raises(PolicyError, match=message):
        compile_condition(cond, FIELDS, "rule")
