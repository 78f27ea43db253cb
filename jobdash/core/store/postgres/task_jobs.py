"""PostgreSQL migration 20: a task's job is no longer checked once per row added.

Until 19, `tasks.job_id REFERENCES jobs (id) ON DELETE CASCADE`: PostgreSQL checks such a
foreign key by a query of its own for each row inserted (its RI trigger, `SELECT 1 FROM jobs
… FOR KEY SHARE`), and tasks go in by `COPY`, thousands of rows at a time, all of one job.
That check was ~6 µs of the server's CPU a task, of its ~70 on the no-op bench (a `COPY` of
20,000 tasks: 13–16 µs a row with the key, 8–9 without it, alternating runs). A statement
trigger checking the rows once a statement cost more than it saved on a job of one task
(its queries of the transition table are planned at each call: +100–300 µs a submission).

What the key held, now:
- A job's tasks go with it: `jobs_tasks`, a statement trigger after a DELETE of jobs,
  removes them through the index of `(job_id, seq)`, the deleted ids as one array. It runs
  as the store's owner (SECURITY DEFINER), as the key's cascade did: row-level security
  does not keep a task from going with its job. Its search path is the store's schema
  (then `pg_catalog`, `pg_temp` last), so a caller's objects cannot stand in for it.
- A task names a job: jobdash adds tasks with their new job, in its transaction
  (`insert_job`), or to a running job whose row it holds `FOR KEY SHARE` meanwhile
  (`Jobs.insert_added`: a job cannot be deleted under its new tasks, and one that is gone
  gets none); a user under row-level security inserts a task only into a job it acts on
  (roles.py). A task's `job_id` is never changed; a change of it to no job is refused by a
  row trigger that fires only when an UPDATE sets that column.
"""

from __future__ import annotations

MIGRATION = """
DO $do$
DECLARE fk TEXT;
BEGIN
SELECT conname INTO fk FROM pg_constraint
    WHERE conrelid = 'tasks'::regclass AND contype = 'f';
IF fk IS NOT NULL THEN
    EXECUTE format('ALTER TABLE tasks DROP CONSTRAINT %I', fk);
END IF;
EXECUTE format($f$
CREATE FUNCTION jobdash_jobs_tasks() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = %I, pg_catalog, pg_temp AS $b$
BEGIN
    EXECUTE 'DELETE FROM tasks WHERE job_id = ANY($1)' USING ARRAY(SELECT id FROM gone);
    RETURN NULL;
END
$b$$f$, current_schema());
EXECUTE format($f$
CREATE FUNCTION jobdash_task_moved() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = %I, pg_catalog, pg_temp AS $b$
BEGIN
    PERFORM 1 FROM jobs WHERE id = NEW.job_id FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tasks: no job %% for task %%', NEW.job_id, NEW.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$b$$f$, current_schema());
END $do$;
CREATE TRIGGER jobs_tasks AFTER DELETE ON jobs REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION jobdash_jobs_tasks();
CREATE TRIGGER tasks_job_moved AFTER UPDATE OF job_id ON tasks FOR EACH ROW
    WHEN (OLD.job_id IS DISTINCT FROM NEW.job_id) EXECUTE FUNCTION jobdash_task_moved();
"""
