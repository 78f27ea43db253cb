"""The SQL both backends share: each transaction and read that is the same in SQLite and
PostgreSQL, written once against a small `Dialect` (placeholders, list membership, the
scalar maximum, `"user"`, a bulk insert) and the connection protocol in `dialect.py`. A
backend keeps only what really differs: its `Db` (connections, threads, the write lock, the
revision), its schema and migrations, opening, and the statements that are its own (the
claims)."""
