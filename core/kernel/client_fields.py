"""The names a rule may use about a client, as SQL over the client row ``c``.

Head-office value rules (classification), suitability rules, service
package rules and branch plugins' adjustments all write conditions in the
rule language (``rules``) over these fields; the ``clients`` table they read
is the core schema's.
"""

def age_sql(today, column="c.birth_date"):
    """Whole years between the ISO date in ``column`` and ``today`` (a date; inlined, it is ours)."""
    d = today.isoformat()
    return (
        f"(CAST(substr('{d}',1,4) AS INTEGER) - CAST(substr({column},1,4) AS INTEGER)"
        f" - (substr('{d}',6,5) < substr({column},6,5)))"
    )


class AgeField(str):
    """The age expression, which also compiles a comparison with a whole number of years
    to one comparison of ``birth_date`` with a cut-off date.

    age ≥ n exactly when the birth date is on or before today's month-day n
    years ago, compared as ISO text (so a 29 February cut-off still orders
    correctly in any year). The arithmetic of ``age_sql`` is several string
    operations per client; this is one compare. NULL stays NULL either way.
    """

    def __new__(cls, today, column="c.birth_date"):
        field = super().__new__(cls, age_sql(today, column))
        field.today, field.column = today, column
        return field

    def _cutoff(self, years):
        year = self.today.year - years
        return f"{year:04d}-{self.today.strftime('%m-%d')}" if 1 <= year <= 9999 else None

    def compare(self, op, value):
        """(sql, params) for ``age <op> value``, or None to use the plain expression."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            return None
        n = int(value)
        at_least_n, at_least_next = self._cutoff(n), self._cutoff(n + 1)
        if at_least_n is None or at_least_next is None:
            return None
        forms = {
            ">=": (f"{self.column} <= ?", [at_least_n]),
            "<": (f"{self.column} > ?", [at_least_n]),
            ">": (f"{self.column} <= ?", [at_least_next]),
            "<=": (f"{self.column} > ?", [at_least_next]),
            "=": (f"({self.column} > ? AND {self.column} <= ?)", [at_least_next, at_least_n]),
            "!=": (f"NOT ({self.column} > ? AND {self.column} <= ?)", [at_least_next, at_least_n]),
        }
        return forms.get({"==": "="}.get(op, op))


def client_fields(today):
    """Names a rule may test, mapped to SQL over the client row ``c``."""
    fields = {
        name: f"c.{name}"
        for name in (
            "kind", "branch_id", "total_assets", "turnover_rate", "avg_holding_days",
            "annual_income", "occupation", "education", "investment_years", "net_assets",
            "opened_at", "birth_date",
        )
    }
    fields["age"] = AgeField(today)
    fields["trading_volume"] = "(COALESCE(c.total_assets,0) * COALESCE(c.turnover_rate,0))"
    return fields
