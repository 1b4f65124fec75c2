"""Least-privilege database roles: names and aliases (`config`), the SQL that creates and
grants them (`sql`), the drift check (`inspect`) and the code that applies them (`services`).

Ground floor: imports no domain app. See docs/security.md for what each role may do and why.
"""
