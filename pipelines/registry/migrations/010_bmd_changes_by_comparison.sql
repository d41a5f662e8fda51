-- `bmd_changes` holds one row per exam, site and comparison (clinical rules version 2, §7):
-- `comparison` is `previous` (the most recent earlier exam on the same scanner and region,
-- CHG-PRIOR) or `baseline` (the first such exam, when it is not the prior one,
-- CHG-BASELINE); `lsc_source` says whether the LSC came from the registry's precision
-- study for that scanner (`precision_study`) or a default (`default`); `region_verified`
-- is false when a hip side was not recorded on either exam (CHG-SAME-REGION).
--
-- Rows written before this migration compared each exam with the previous exam only,
-- without region checks: they become `previous` rows with `lsc_source` and
-- `region_verified` NULL (not recorded then). They are replaced when their exam is
-- judged again (an earlier exam of the patient arrives).
-- The table has no key index (migration 004); DuckDB cannot add a NOT NULL column in
-- place with a value for the old rows and a column order of its choosing, so the table
-- is rebuilt (views re-bind by name).

CREATE TABLE bmd_changes_rebuilt (
    exam_id VARCHAR NOT NULL,
    site VARCHAR NOT NULL,
    comparison VARCHAR NOT NULL,     -- previous | baseline
    prior_exam_id VARCHAR NOT NULL,  -- the exam compared with (the baseline on a baseline row)
    bmd_g_cm2 DOUBLE,
    prior_bmd_g_cm2 DOUBLE,
    pct_change DOUBLE,
    lsc_pct DOUBLE,
    lsc_source VARCHAR,              -- precision_study | default; null when no LSC is known
    significant BOOLEAN,             -- null when no precision is configured for the site
    direction VARCHAR,               -- decrease | increase | stable
    days_between INTEGER,            -- days to the exam compared with
    region_verified BOOLEAN,         -- false: a hip side is missing on either exam
    run_id VARCHAR NOT NULL          -- the run that last judged this exam and site
);
INSERT INTO bmd_changes_rebuilt
SELECT exam_id, site, 'previous', prior_exam_id, bmd_g_cm2, prior_bmd_g_cm2, pct_change,
       lsc_pct, NULL, significant, direction, days_between, NULL, run_id
FROM bmd_changes;
DROP TABLE bmd_changes;
ALTER TABLE bmd_changes_rebuilt RENAME TO bmd_changes;
