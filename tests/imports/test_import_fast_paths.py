"""The client import's speed paths (issue 16 item 2) give exactly what the plain ways give."""

import datetime as dt
import random

import pytest

from brokercrm.imports import pipeline as import_pipeline
from brokercrm.imports.client_rows import KNOWN
from brokercrm.imports.clients import _RowNumbers
from brokercrm.imports.clients_fast import FastChecker
from brokercrm.imports.tables import LostDigits
from brokercrm.kernel.errors import BrokerCRMError
from brokercrm.kernel.validate import id_check_char


def test_fast_check_digit_is_gb11643_for_every_digit():
    """The base-13 shortcut agrees with the weighted sum for IDs ending in each of 0-9 and X."""
    checker = FastChecker({"TY01"}, dt.date(2026, 6, 30), KNOWN)
    rng = random.Random(16)
    seen = set()
    for _ in range(20000):
        first17 = "140105" + f"{rng.randrange(1930, 2006)}0{rng.randrange(1, 10)}1{rng.randrange(0, 10)}" \
            + "".join(rng.choice("0123456789") for _ in range(3))
        right = id_check_char(first17)
        wrong = "0" if right != "0" else "1"
        row = {"client_id": "C1", "kind": "individual", "name": "张三", "phone": "13800000000", "branch_id": "TY01"}
        assert checker.fast_row({**row, "id_number": first17 + right}) is not None, first17 + right
        assert checker.fast_row({**row, "id_number": first17 + wrong}) is None, first17 + wrong
        seen.add(right)
    assert seen == set("0123456789X")


def test_row_numbers_with_and_without_gaps():
    numbers = _RowNumbers()
    numbers.add(1, [2, 3, 4, 5])          # one run, the common case
    numbers.add(5, [6, 7, 9, 12, 13])     # gaps: rows 8, 10 and 11 were bad
    numbers.add(10, [14, 15])             # joins the previous run
    got = [numbers.number(rowid) for rowid in range(1, 12)]
    assert got == [2, 3, 4, 5, 6, 7, 9, 12, 13, 14, 15]


@pytest.mark.parametrize("payload", [
    {"rows": 2, "good": [("C1", "individual", None, 1.5)], "numbers": [2], "bad": [(3, {"a": "b"}, [("x", "y")])]},
    "done",
])
def test_plain_payloads_cross_the_pipe_as_marshal(payload):
    data = import_pipeline._pack(payload)
    assert data[:1] == import_pipeline._MARSHAL
    assert import_pipeline._unpack(data) == payload


def test_other_payloads_cross_the_pipe_as_pickle_with_their_types():
    """An error, or a workbook cell that lost digits (a str subclass), keeps its type."""
    for payload in [("error", BrokerCRMError("坏文件 (bad file)")), {"good": [(LostDigits("1.4e17"),)]}]:
        data = import_pipeline._pack(payload)
        assert data[:1] == import_pipeline._PICKLE
        back = import_pipeline._unpack(data)
        assert type(back) is type(payload)
    assert isinstance(import_pipeline._unpack(import_pipeline._pack(
        {"good": [(LostDigits("1.4e17"),)]}))["good"][0][0], LostDigits)
