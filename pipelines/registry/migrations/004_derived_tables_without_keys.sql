-- Derived tables lose their composite primary keys; `exams.exam_id` keeps its key.
--
-- Why: DuckDB maintains an ART index per key, and on a million-exam load the indexes of
-- measurements (exam, site), assessments (exam, ruleset) and bmd_changes (exam, site)
-- cost more than reading, validating and deciding together (bench/README.md). Their
-- uniqueness follows from how they are written: measurements from exams (one row per
-- site, exam ids unique by the exams key), assessments only for exams that lack one under
-- the ruleset, bmd_changes replaced when an exam is judged again. tests/test_store.py
-- checks those invariants after reloads, a second ruleset and back-filled exams.
-- DuckDB cannot drop a key in place, so each table is rebuilt (views re-bind by name).

CREATE TABLE measurements_rebuilt (
    exam_id VARCHAR NOT NULL,
    site VARCHAR NOT NULL,               -- spine | femoral_neck | total_hip | radius_33
    bmd_g_cm2 DOUBLE,
    t_score DOUBLE,
    z_score DOUBLE,
    hip_side VARCHAR,
    vertebrae BIGINT
);
INSERT INTO measurements_rebuilt SELECT * FROM measurements;
DROP TABLE measurements;
ALTER TABLE measurements_rebuilt RENAME TO measurements;

CREATE TABLE assessments_rebuilt (
    exam_id VARCHAR NOT NULL,
    ruleset VARCHAR NOT NULL,            -- ID@VERSION
    basis VARCHAR NOT NULL,
    diagnostic_site VARCHAR,
    diagnostic_t_score DOUBLE,
    diagnostic_z_score DOUBLE,
    who_category VARCHAR,
    z_category VARCHAR,
    high_risk_features VARCHAR[],
    risk_factor_count INTEGER,
    treatment VARCHAR NOT NULL,
    reasons VARCHAR[],
    first_line_therapy VARCHAR,
    secondary_cause_workup BOOLEAN,
    vfa_recommended BOOLEAN,
    next_dxa_due DATE,
    lifestyle VARCHAR[],
    run_id VARCHAR NOT NULL
);
INSERT INTO assessments_rebuilt SELECT * FROM assessments;
DROP TABLE assessments;
ALTER TABLE assessments_rebuilt RENAME TO assessments;

CREATE TABLE bmd_changes_rebuilt (
    exam_id VARCHAR NOT NULL,
    prior_exam_id VARCHAR NOT NULL,
    site VARCHAR NOT NULL,
    bmd_g_cm2 DOUBLE,
    prior_bmd_g_cm2 DOUBLE,
    pct_change DOUBLE,
    lsc_pct DOUBLE,
    significant BOOLEAN,             -- null when no precision is configured for the site
    direction VARCHAR,               -- decrease | increase | stable
    days_between INTEGER,
    run_id VARCHAR NOT NULL          -- the run that last judged this exam and site
);
INSERT INTO bmd_changes_rebuilt SELECT * FROM bmd_changes;
DROP TABLE bmd_changes;
ALTER TABLE bmd_changes_rebuilt RENAME TO bmd_changes;
