-- Serial comparison results (clinical-rules §7) and the report views quality teams use.
-- View names are public: change a view in a new migration with CREATE OR REPLACE.

CREATE TABLE bmd_changes (
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
    run_id VARCHAR NOT NULL,
    PRIMARY KEY (exam_id, site)
);

-- Latest exam per patient and ruleset, with its assessment.
CREATE VIEW v_latest_assessment AS
SELECT e.patient_id, e.exam_date, e.sex, e.age_years, e.scanner_serial, e.on_treatment,
       a.*
FROM assessments a JOIN exams e USING (exam_id)
QUALIFY row_number() OVER (PARTITION BY e.patient_id, a.ruleset
                           ORDER BY e.exam_date DESC, e.exam_id DESC) = 1;

-- Treatment recommended or to consider, and not on treatment (latest exam per patient).
CREATE VIEW v_treatment_candidates AS
SELECT * FROM v_latest_assessment
WHERE treatment IN ('recommended', 'consider') AND coalesce(on_treatment, false) = false;

-- Follow-up overdue as of a given date: the latest exam's next DXA due date has passed
-- (the latest exam has, by definition, no later exam).
CREATE MACRO followup_overdue(as_of) AS TABLE
SELECT *, CAST(as_of AS DATE) - next_dxa_due AS days_overdue
FROM v_latest_assessment
WHERE next_dxa_due IS NOT NULL AND next_dxa_due < CAST(as_of AS DATE);

CREATE VIEW v_followup_overdue AS
SELECT * FROM followup_overdue(current_date);

-- Quarantine reasons and flags, counted by run and file.
CREATE VIEW v_data_quality AS
SELECT q.run_id, q.file_sha256, coalesce(q.path, s.path) AS path, 'quarantine' AS kind,
       reason AS item, 'error' AS severity, count(*) AS n
FROM (SELECT *, unnest(string_split(errors, '; ')) AS reason FROM quarantine) q
LEFT JOIN source_files s USING (file_sha256)
GROUP BY ALL
UNION ALL
SELECT f.run_id, e.file_sha256, s.path, 'flag' AS kind, f.code AS item, f.severity, count(*)
FROM flags f JOIN exams e USING (exam_id) LEFT JOIN source_files s USING (file_sha256)
GROUP BY ALL;

-- Per scanner: exams, mean T-score by site, flags.
CREATE VIEW v_scanner_summary AS
WITH t AS (
    SELECT e.scanner_serial, any_value(e.scanner_manufacturer) AS manufacturer,
           any_value(e.scanner_model) AS model, count(DISTINCT e.exam_id) AS exams,
           count(DISTINCT e.patient_id) AS patients,
           round(avg(m.t_score) FILTER (WHERE m.site = 'spine'), 2) AS mean_t_spine,
           round(avg(m.t_score) FILTER (WHERE m.site = 'total_hip'), 2) AS mean_t_total_hip,
           round(avg(m.t_score) FILTER (WHERE m.site = 'femoral_neck'), 2) AS mean_t_femoral_neck,
           round(avg(m.t_score) FILTER (WHERE m.site = 'radius_33'), 2) AS mean_t_radius_33
    FROM exams e LEFT JOIN measurements m USING (exam_id)
    GROUP BY e.scanner_serial
), f AS (
    SELECT e.scanner_serial, count(*) AS flags,
           count(*) FILTER (WHERE f.severity = 'high') AS flags_high,
           count(*) FILTER (WHERE f.code = 'SCANNER_CHANGED') AS scanner_changes
    FROM flags f JOIN exams e USING (exam_id) GROUP BY e.scanner_serial
)
SELECT t.*, coalesce(f.flags, 0) AS flags, coalesce(f.flags_high, 0) AS flags_high,
       coalesce(f.scanner_changes, 0) AS scanner_changes
FROM t LEFT JOIN f ON t.scanner_serial IS NOT DISTINCT FROM f.scanner_serial;

-- Runs, newest first, with duration.
CREATE VIEW v_run_history AS
SELECT run_id, started_at, finished_at, status, ruleset,
       date_diff('second', started_at, finished_at) AS seconds,
       rows_read, rows_loaded, rows_quarantined, rows_duplicate,
       files_loaded, files_skipped, files_failed, message
FROM runs ORDER BY started_at DESC;
