"""Fixtures the attack tests share."""

import pytest

from tests.conftest import add_client


@pytest.fixture
def book(db):
    add_client(db, "T1", branch="TY01", assets=50_000)
    add_client(db, "B1", branch="BJ01", assets=50_000)
    return db
