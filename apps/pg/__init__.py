"""The PostgreSQL ground floor: machinery every app may use; it imports no domain app."""
