"""Cross-cutting pieces: database, auth, the access gate, errors and event emission."""
