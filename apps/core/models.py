"""Abstract bases shared by the domain apps."""

from django.db import models


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


def choices_check(
    field: str, choices: type[models.TextChoices], name: str
) -> models.CheckConstraint:
    """A CHECK constraint keeping `field` inside an enum's values, for every writer."""
    return models.CheckConstraint(condition=models.Q(**{f"{field}__in": choices.values}), name=name)


def range_check(
    field: str, low, high, name: str, *, nullable: bool = False
) -> models.CheckConstraint:
    condition = models.Q(**{f"{field}__gte": low, f"{field}__lte": high})
    if nullable:
        condition |= models.Q(**{f"{field}__isnull": True})
    return models.CheckConstraint(
        condition=condition,
        name=name,
        violation_error_message=f"{field} must be between {low} and {high}.",
    )
