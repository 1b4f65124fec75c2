"""DB-health checks, one module per concern (PgHero's shape): each module holds its SQL, its
`report()` and its findings. A new check is one `@check(section, kind)` function in the module
of its concern; apps/dbhealth/sections.py lists the sections and collects the checks."""
