-- Personal-data redaction (apps/privacy, docs/privacy.md). Created by the owner, who runs
-- migrations; EXECUTE is revoked from PUBLIC, so only the owner (the erasure runs as the owner,
-- on the maintenance connection) can call these functions.

-- The one definition of "an identifier occurs here": every term matched literally (regex
-- metacharacters escaped), case-insensitively, longest term first, and, with `whole_words`, not
-- inside a longer word (no letter, digit or underscore on either side).
CREATE OR REPLACE FUNCTION public.flowbase_privacy_pattern(terms text[], whole_words boolean DEFAULT true)
RETURNS text LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    body text;
BEGIN
    IF terms IS NULL OR cardinality(terms) = 0 OR cardinality(terms) > 20 THEN
        RAISE EXCEPTION 'flowbase_privacy_pattern: between 1 and 20 terms, not %', coalesce(cardinality(terms), 0)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(terms) t
               WHERE t IS NULL OR char_length(t) < 3 OR char_length(t) > 254
                  OR t ~ '["\\[:cntrl:]]') THEN
        RAISE EXCEPTION 'flowbase_privacy_pattern: every term has 3 to 254 characters, no quote, backslash or control character'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT string_agg(regexp_replace(t, '([.^$|?*+()\[\]{}\\])', '\\\1', 'g'), '|'
                      ORDER BY char_length(t) DESC, t)
      INTO body FROM (SELECT DISTINCT t FROM unnest(terms) t) d;
    IF whole_words THEN
        RETURN '(?<![[:alnum:]_])(?:' || body || ')(?![[:alnum:]_])';
    END IF;
    RETURN '(?:' || body || ')';
END
$fn$;

-- The document with every string value and key matching `pattern` rewritten (`replacement`
-- instead of each match), and, at any depth under a key listed in `id_keys`, every number or
-- numeric string equal to `id_value` replaced by null. Structure and order are kept.
CREATE OR REPLACE FUNCTION public.flowbase_privacy_redact_jsonb(
    doc jsonb, pattern text, replacement text,
    id_keys text[] DEFAULT '{}', id_value bigint DEFAULT NULL, under_id_key boolean DEFAULT false)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    result jsonb;
BEGIN
    CASE jsonb_typeof(doc)
    WHEN 'object' THEN
        SELECT coalesce(jsonb_object_agg(
                   regexp_replace(e.key, pattern, replacement, 'gi'),
                   public.flowbase_privacy_redact_jsonb(e.value, pattern, replacement, id_keys,
                       id_value, under_id_key OR e.key = ANY(id_keys))), '{}'::jsonb)
          INTO result FROM jsonb_each(doc) e;
        RETURN result;
    WHEN 'array' THEN
        SELECT coalesce(jsonb_agg(public.flowbase_privacy_redact_jsonb(e.value, pattern,
                   replacement, id_keys, id_value, under_id_key) ORDER BY e.ord), '[]'::jsonb)
          INTO result FROM jsonb_array_elements(doc) WITH ORDINALITY e(value, ord);
        RETURN result;
    WHEN 'string' THEN
        IF under_id_key AND id_value IS NOT NULL AND doc #>> '{}' = id_value::text THEN
            RETURN 'null'::jsonb;
        END IF;
        RETURN to_jsonb(regexp_replace(doc #>> '{}', pattern, replacement, 'gi'));
    WHEN 'number' THEN
        IF under_id_key AND id_value IS NOT NULL AND doc = to_jsonb(id_value) THEN
            RETURN 'null'::jsonb;
        END IF;
        RETURN doc;
    ELSE
        RETURN doc;
    END CASE;
END
$fn$;

-- The only way to change a row of the append-only audit log. It rewrites, in the given rows of
-- the audit log, one of its partitions or an archived (detached) audit partition, nothing but the
-- personal values: the identifiers inside `changes` (by the pattern above) and `actor_id` when it
-- is the person's account. It never touches another column, never an erasure or redaction record,
-- at most 10,000 rows a call, and every call leaves its own audit row (relation, rows, pseudonym,
-- database login; never the identifiers).
CREATE OR REPLACE FUNCTION public.flowbase_audit_redact(
    target regclass, row_created_at timestamptz[], row_ids bigint[], terms text[],
    replacement text, actor bigint DEFAULT NULL, id_keys text[] DEFAULT '{}')
RETURNS integer LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    rel record;
    pattern text;
    guards text[];
    previous text;
    changed integer;
BEGIN
    SELECT n.nspname, c.relname, c.relkind,
           CASE WHEN c.relispartition THEN pg_partition_root(c.oid) ELSE c.oid END AS root
      INTO rel
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = target;
    IF NOT FOUND OR NOT (rel.root = 'public.audit_auditevent'::regclass
            OR (rel.nspname = 'archive' AND rel.relkind = 'r'
                AND rel.relname LIKE 'audit\_auditevent\_%')) THEN
        RAISE EXCEPTION 'flowbase_audit_redact: % is not the audit log, one of its partitions or an archived audit partition', target
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF replacement IS NULL OR replacement !~ '^erased-[0-9a-f]{12,64}$' THEN
        RAISE EXCEPTION 'flowbase_audit_redact: the replacement must be a pseudonym erased-<hex>'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF cardinality(row_ids) IS DISTINCT FROM cardinality(row_created_at)
       OR coalesce(cardinality(row_ids), 0) > 10000 THEN
        RAISE EXCEPTION 'flowbase_audit_redact: at most 10000 (created_at, id) keys a call, both arrays of one length'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    pattern := public.flowbase_privacy_pattern(terms);
    IF replacement ~* pattern THEN
        RAISE EXCEPTION 'flowbase_audit_redact: a term matches the pseudonym itself'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF coalesce(cardinality(row_ids), 0) = 0 THEN
        RETURN 0;
    END IF;
    -- Lift the audit log's own guards (pgtrigger triggers, cloned onto every partition under
    -- the same name) for this one statement; the caller's setting is put back right after.
    SELECT array_agg(t.tgname::text) INTO guards
      FROM pg_trigger t
     WHERE t.tgrelid = 'public.audit_auditevent'::regclass AND NOT t.tgisinternal
       AND t.tgname LIKE 'pgtrigger\_%';
    previous := current_setting('pgtrigger.ignore', true);
    PERFORM set_config('pgtrigger.ignore',
        (coalesce(NULLIF(previous, '')::text[], '{}'::text[]) || coalesce(guards, '{}'::text[]))::text,
        true);
    EXECUTE format($q$
        UPDATE %s a
           SET changes = public.flowbase_privacy_redact_jsonb(a.changes, $1, $2, $3, $4),
               actor_id = CASE WHEN a.actor_id = $4 THEN NULL ELSE a.actor_id END
          FROM unnest($5, $6) AS k(created_at, id)
         WHERE a.created_at = k.created_at AND a.id = k.id
           AND coalesce(a.changes ->> 'action', '') NOT IN ('erasure', 'audit_redaction')
           AND (a.actor_id = $4
                OR public.flowbase_privacy_redact_jsonb(a.changes, $1, $2, $3, $4) IS DISTINCT FROM a.changes)
        $q$, target)
        USING pattern, replacement, coalesce(id_keys, '{}'::text[]), actor, row_created_at, row_ids;
    GET DIAGNOSTICS changed = ROW_COUNT;
    PERFORM set_config('pgtrigger.ignore', coalesce(NULLIF(previous, ''), '{}'), true);
    INSERT INTO public.audit_auditevent (table_name, row_pk, action, changes, actor_id, request_id, txid)
    VALUES ('audit_auditevent', left(rel.relname, 64), 'ACTION',
            jsonb_build_object('action', 'audit_redaction',
                               'relation', format('%I.%I', rel.nspname, rel.relname),
                               'rows', changed, 'replacement', replacement, 'db_user', session_user),
            NULLIF(current_setting('flowbase.user_id', true), '')::bigint,
            left(coalesce(current_setting('flowbase.request_id', true), ''), 64),
            txid_current());
    RETURN changed;
END
$fn$;

REVOKE ALL ON FUNCTION public.flowbase_privacy_pattern(text[], boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.flowbase_privacy_redact_jsonb(jsonb, text, text, text[], bigint, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.flowbase_audit_redact(regclass, timestamptz[], bigint[], text[], text, bigint, text[]) FROM PUBLIC;
