-- Each run records its own stage timings: seconds per stage (read, parse_validate,
-- registry_overlap, decide, history_query, serial, insert, commit, ledger, report,
-- publish, ...), summed over the run's inputs and batches (`pipelines.timing.Stage`).
-- The benchmark reads them; an operator sees where a slow night went. A MAP, so that a
-- stage added later needs no migration. `runs.status` also gains `interrupted`: a run
-- whose process died before it could record its end (set by the next run that writes).
ALTER TABLE runs ADD COLUMN stage_seconds MAP(VARCHAR, DOUBLE);
