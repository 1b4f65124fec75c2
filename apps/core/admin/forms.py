"""Admin forms that ask the database before saving.

Rules enforced by triggers (status transitions, dependency cycles) would otherwise surface as
a 500 on save. The form saves a copy of the object inside a savepoint, rolls it back, and turns
a refusal into a form error carrying the database's message.
"""

import copy

from django import forms
from django.db import IntegrityError, transaction

from apps.core.services import database_error_message


class _RollBack(Exception):
    pass


class DatabaseRulesForm(forms.ModelForm):
    def _post_clean(self) -> None:
        super()._post_clean()
        if self.errors or not self.has_changed() or self._missing_required_fk():
            return
        probe = copy.copy(self.instance)
        probe._state = copy.copy(self.instance._state)
        try:
            with transaction.atomic():
                probe.save()
                raise _RollBack
        except _RollBack:
            pass
        except IntegrityError as exc:
            self.add_error(None, database_error_message(exc))

    def _missing_required_fk(self) -> bool:
        """Inline rows of an unsaved parent have no parent id yet: nothing to ask."""
        return any(
            field.many_to_one and not field.null and getattr(self.instance, field.attname) is None
            for field in self.instance._meta.concrete_fields
        )
