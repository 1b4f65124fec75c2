"""Demo and scale data for `manage.py seed_demo` (small: ORM bulk writes; medium/large: SQL)."""
