"""The PostgreSQL store's index of the finished jobs' words (schema migration 17), which the
Completed tab's window looks a free word up in, as SQLite's text index (`jobs_text`).

- `jobs.words` is a stored generated column: the job's type, target, user, info, id and
  parameters' JSON text, one per line, folded over A-Z as `query.fold` folds (`lower()`
  under the "C" collation). The database keeps it current at every write: no batches, no
  lag, so `index_text` only says whether the index is there.
- `jobs_words` is a GIN index of its trigrams (the `pg_trgm` extension, part of PostgreSQL's
  own packages and trusted: a database owner may create it), over the finished jobs only,
  so a running job's many updates never touch it. `LIKE '%word%'` is answered from it.
- It finds a superset of the jobs a word selects, which the exact condition then checks:
  only for a word that stands in the JSON text exactly as in a parameter's value (printable
  ASCII without quote or backslash, `WordIndex.verbatim`). Other words are looked for in
  every row, as before.
- The column has the planner's statistics, so a word that most jobs hold is read in id
  order and stops after a page, and a rare one goes through the index.
- The extension is created in the schema `public` when missing (one per database, shared
  by every store in it). When that is refused (no right to create it, the contrib files
  missing), the store works without the index (a NOTICE says why); an administrator who
  creates the extension later adds the index with the statement in `WORD_INDEX`.
- Under row-level security (a role's own connection, as every non-owner's is) PostgreSQL
  uses an index only for operators marked leakproof, which `LIKE` is not. So there the
  words are looked for in every row the role may see (through the `words` column: one
  comparison a row instead of one a field). The store's owner, and a single-user setup,
  use the index.
"""

from __future__ import annotations

from jobdash.core.store.sql.filters import FINISHED_ONLY as FINISHED

INDEX = "jobs_words"  # its condition is the one the window's queries name (FINISHED_ONLY)

WORDS_COLUMN = """
ALTER TABLE jobs ADD COLUMN words TEXT GENERATED ALWAYS AS (lower((
    type || E'\\n' || target || E'\\n' || "user" || E'\\n' || info || E'\\n' || id::text
    || E'\\n' || params) COLLATE "C")) STORED;
"""

# The index, when pg_trgm is there or may be created; a NOTICE (and no index) when not.
WORD_INDEX = f"""
DO $words$
DECLARE
    home name;
BEGIN
    SELECT n.nspname INTO home FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_trgm';
    IF home IS NULL THEN
        BEGIN
            CREATE EXTENSION pg_trgm SCHEMA public;
            home := 'public';
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'jobdash: no index of words (pg_trgm: %)', SQLERRM;
            RETURN;
        END;
    END IF;
    EXECUTE format(
        'CREATE INDEX IF NOT EXISTS {INDEX} ON jobs USING gin (words %I.gin_trgm_ops) WHERE {FINISHED.replace("'", "''")}',
        home);
END
$words$;
ANALYZE jobs;
"""

MIGRATION = WORDS_COLUMN + WORD_INDEX

# Whether this store has the index (`index_text`).
HAS_INDEX = f"SELECT to_regclass('{INDEX}') IS NOT NULL"
