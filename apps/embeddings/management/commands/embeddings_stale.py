"""`manage.py embeddings_stale [--json] [--provider P --namespace N --model M] [--limit N]
[--recheck [--apply]]`: the staleness report of the embedding metadata (no network calls)."""

from __future__ import annotations

from django.core.management.base import CommandError

from apps.core.commands import FlowbaseCommand
from apps.embeddings import selectors, services


class Command(FlowbaseCommand):
    destructive = True
    json_output = True
    apply_help = "with --recheck: mark what changed (without it the recheck only counts)"
    help = (
        "Report stale embeddings (source changed or deleted since embedding) per provider, "
        "namespace and model, with the oldest ones listed. --recheck compares every hash with "
        "its source again (dry run unless --apply)."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--provider")
        parser.add_argument("--namespace")
        parser.add_argument("--model", dest="model_name")
        parser.add_argument("--limit", type=int, default=50, help="stale rows listed (max 1000)")
        parser.add_argument("--recheck", action="store_true", help="re-evaluate every hash")

    def handle(self, *args, as_json, provider, namespace, model_name, limit, recheck, apply, **o):
        if apply and not recheck:
            raise CommandError("--apply only goes with --recheck")
        if not 0 <= limit <= 1000:
            raise CommandError("--limit: between 0 and 1000")
        recheck_result = services.embeddings_recheck(apply=apply) if recheck else None
        groups = [
            g
            for g in selectors.embedding_usage_summary()
            if (not provider or g.provider == provider)
            and (not namespace or g.namespace == namespace)
            and (not model_name or g.model_name == model_name)
        ]
        stale = list(
            selectors.stale_embeddings(
                provider=provider, namespace=namespace, model_name=model_name
            ).values(
                "id",
                "entity_type",
                "entity_id",
                "chunk",
                "provider",
                "namespace",
                "model_name",
                "external_id",
                "stale_reason",
                "stale_since",
            )[:limit]
        )
        if as_json:
            self.write_json(
                {
                    "groups": [g.as_dict() for g in groups],
                    "stale": stale,
                    "recheck": recheck_result,
                }
            )
            return
        if recheck_result is not None:
            verb = "marked" if apply else "would mark"
            self.stdout.write(
                f"recheck: {verb} {recheck_result['newly_stale']} stale, "
                f"{recheck_result['newly_orphaned']} orphaned, {recheck_result['fresh_again']} fresh"
            )
        if not groups:
            self.stdout.write("no embeddings recorded")
        for g in groups:
            plus = "+" if g.capped else ""
            self.stdout.write(
                f"{g.provider}/{g.namespace}/{g.model_name}: {g.count}{plus} embeddings, "
                f"{g.stale} stale ({g.orphaned} source deleted), last used "
                f"{g.last_used_at.isoformat() if g.last_used_at else 'never'}"
            )
        for row in stale:
            self.stdout.write(
                f"  #{row['id']} {row['entity_type']}:{row['entity_id']}[{row['chunk']}] "
                f"{row['external_id']} {row['stale_reason']} since {row['stale_since']:%Y-%m-%d %H:%M}"
            )
