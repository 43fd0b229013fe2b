from brokercrm.kernel.sql_filters import where_equal


def test_only_given_values_filter_and_extra_clauses_follow():
    assert where_equal({"a": None, "b": ""}) == ("", [])
    assert where_equal({"c.branch_id": "TY01", "k.class": None, "state": "open"}) == (
        " WHERE c.branch_id = ? AND state = ?", ["TY01", "open"])
    assert where_equal({"a": 0}, extra=[("due_at < ?", ["2026-01-01"])]) == (
        " WHERE a = ? AND due_at < ?", [0, "2026-01-01"])
