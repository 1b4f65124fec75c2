"""Lookups the ORM lacks.

`field__any=[…]` renders `field = ANY(%s)` with the values as one array parameter. `__in`
sends one placeholder per value, so a list of a thousand ids costs a thousand parameters to
bind and plan on every query that reuses it.
"""

from __future__ import annotations

from django.db.models import Field, Lookup


@Field.register_lookup
class AnyOf(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self):
        return list(self.rhs)

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*lhs_params, self.rhs]
