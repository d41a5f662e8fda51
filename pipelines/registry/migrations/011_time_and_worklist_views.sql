-- Time in the views, and the views behind the worklists (`dxa export KIND`).
-- Upgrades in place: new names, and `measurements` replaced with its columns kept in order
-- and two added at the end. Every view here binds in DuckDB 1.4 and newer, so the PyPI CLI
-- and SQL clients that embed 1.4 run them on the reporting copy.

-- `measurements` gains each exam's scanner and date: monthly and per-scanner questions
-- ("mean spine BMD on scanner X in March") no longer need a join back to `exams`.
CREATE OR REPLACE VIEW measurements AS
SELECT exam_id, 'spine' AS site, spine_bmd AS bmd_g_cm2, spine_t AS t_score,
       spine_z AS z_score, CAST(NULL AS VARCHAR) AS hip_side,
       coalesce(spine_vertebrae, 4) AS vertebrae, scanner_serial, exam_date
FROM exams
WHERE spine_bmd IS NOT NULL OR spine_t IS NOT NULL OR spine_z IS NOT NULL
UNION ALL
SELECT exam_id, 'total_hip', total_hip_bmd, total_hip_t, total_hip_z, hip_side,
       CAST(NULL AS BIGINT), scanner_serial, exam_date
FROM exams
WHERE total_hip_bmd IS NOT NULL OR total_hip_t IS NOT NULL OR total_hip_z IS NOT NULL
UNION ALL
SELECT exam_id, 'femoral_neck', femoral_neck_bmd, femoral_neck_t, femoral_neck_z, hip_side,
       CAST(NULL AS BIGINT), scanner_serial, exam_date
FROM exams
WHERE femoral_neck_bmd IS NOT NULL OR femoral_neck_t IS NOT NULL OR femoral_neck_z IS NOT NULL
UNION ALL
SELECT exam_id, 'radius_33', radius_33_bmd, radius_33_t, radius_33_z, CAST(NULL AS VARCHAR),
       CAST(NULL AS BIGINT), scanner_serial, exam_date
FROM exams
WHERE radius_33_bmd IS NOT NULL OR radius_33_t IS NOT NULL OR radius_33_z IS NOT NULL;

-- Scanner drift, month by month: a patient-based Shewhart X-bar chart per scanner and site.
-- Baseline: the scanner and site's first 6 months with exams; center = mean BMD of the
-- baseline exams, sigma = their standard deviation (between patients). A later month's mean
-- BMD of n exams is judged against center +/- 3 sigma / sqrt(n) (control limits), with two
-- of the Westgard multi-rules densitometry QC programs apply to Shewhart charts:
--   1-3s  the month's mean is outside the 3-sigma limits;
--   2-2s  this month and the previous one are both beyond 2 sigma / sqrt(n) on the same side
--         (catches a slow drift a month or more before 1-3s).
-- Baseline months are the reference (drift false); a scanner and site whose baseline holds
-- fewer than 20 BMD values has no limits and drift null (not judged). Exams without a
-- scanner serial are left out (no scanner to chart). A month can also move because the
-- patient mix changed (a new referral stream): a flagged month is a question for the
-- quality team (phantom QC, service log), not proof of a faulty scanner.
CREATE OR REPLACE VIEW v_scanner_monthly AS
WITH m AS (
    SELECT scanner_serial, site, CAST(date_trunc('month', exam_date) AS DATE) AS month,
           bmd_g_cm2, t_score
    FROM measurements WHERE scanner_serial IS NOT NULL
), monthly AS (
    SELECT scanner_serial, site, month, count(*) AS exams, count(bmd_g_cm2) AS n_bmd,
           avg(bmd_g_cm2) AS mean_bmd, avg(t_score) AS mean_t,
           dense_rank() OVER (PARTITION BY scanner_serial, site ORDER BY month) AS month_number
    FROM m GROUP BY scanner_serial, site, month
), baseline AS (
    SELECT m.scanner_serial, m.site, avg(m.bmd_g_cm2) AS center,
           stddev_samp(m.bmd_g_cm2) AS sigma, count(m.bmd_g_cm2) AS n
    FROM m JOIN monthly USING (scanner_serial, site, month)
    WHERE monthly.month_number <= 6
    GROUP BY m.scanner_serial, m.site
), judged AS (
    SELECT monthly.*, b.center,
           CASE WHEN b.n >= 20 AND b.sigma > 0 AND monthly.n_bmd > 0
                THEN b.sigma / sqrt(monthly.n_bmd) END AS se,
           monthly.month_number <= 6 AS in_baseline
    FROM monthly LEFT JOIN baseline b USING (scanner_serial, site)
), scored AS (
    SELECT *, (mean_bmd - center) / se AS z,
           lag((mean_bmd - center) / se) OVER (PARTITION BY scanner_serial, site
                                               ORDER BY month) AS previous_z
    FROM judged
)
SELECT scanner_serial, site, month, exams,
       round(mean_bmd, 4) AS mean_bmd_g_cm2, round(mean_t, 2) AS mean_t_score,
       round(CASE WHEN se IS NOT NULL THEN center END, 4) AS center_bmd_g_cm2,
       round(center - 3 * se, 4) AS lower_limit_bmd_g_cm2,
       round(center + 3 * se, 4) AS upper_limit_bmd_g_cm2,
       CASE WHEN se IS NULL THEN NULL
            WHEN in_baseline THEN false
            ELSE abs(z) > 3 OR (abs(z) > 2 AND abs(previous_z) > 2 AND sign(z) = sign(previous_z))
       END AS drift,
       CASE WHEN se IS NULL OR in_baseline THEN NULL
            WHEN abs(z) > 3 THEN '1-3s'
            WHEN abs(z) > 2 AND abs(previous_z) > 2 AND sign(z) = sign(previous_z) THEN '2-2s'
       END AS drift_rule
FROM scored;

COMMENT ON VIEW v_scanner_monthly IS 'Per scanner, site and month: exams, mean BMD and T-score, and a patient-based Shewhart X-bar chart against the scanner and site''s first 6 months (center +/- 3 sigma/sqrt(n)); drift by Westgard rules 1-3s (outside the limits) or 2-2s (two months in a row beyond 2 sigma/sqrt(n), same side).';

-- Worklists: each patient's latest exam on or before `as_of`, one row per ruleset, as in
-- latest_assessment_as_of (migration 003). The v_* views are the same lists today.

-- Treatment recommended or to consider, and not on treatment.
CREATE OR REPLACE MACRO treatment_candidates_as_of(as_of) AS TABLE
SELECT * FROM latest_assessment_as_of(as_of)
WHERE treatment IN ('recommended', 'consider') AND coalesce(on_treatment, false) = false;

-- Secondary-cause workup suggested (WORKUP-* rules), with the scores that led to it.
CREATE OR REPLACE MACRO secondary_cause_workup_as_of(as_of) AS TABLE
SELECT * FROM latest_assessment_as_of(as_of) WHERE secondary_cause_workup;

CREATE OR REPLACE VIEW v_secondary_cause_workup AS
SELECT * FROM secondary_cause_workup_as_of(current_date);

-- Vertebral fracture assessment recommended (VFA-INDICATED), with the findings behind it.
CREATE OR REPLACE MACRO vfa_candidates_as_of(as_of) AS TABLE
SELECT l.*, e.height_loss_cm, e.kyphosis, e.back_pain
FROM latest_assessment_as_of(as_of) l JOIN exams e USING (exam_id)
WHERE l.vfa_recommended;

CREATE OR REPLACE VIEW v_vfa_candidates AS
SELECT * FROM vfa_candidates_as_of(current_date);

-- The latest exam shows a significant BMD loss (beyond the LSC, same scanner; CHG-LOSS):
-- the sites as text, the largest loss, and the flag raised (LOSS_ON_TREATMENT when on
-- treatment).
CREATE OR REPLACE MACRO significant_loss_as_of(as_of) AS TABLE
WITH losses AS (
    SELECT exam_id,
           string_agg(site || ' ' || CAST(round(pct_change, 1) AS VARCHAR) || '% (LSC '
                      || CAST(round(lsc_pct, 1) AS VARCHAR) || '%)', '; '
                      ORDER BY site, pct_change) AS losses,
           min(pct_change) AS largest_loss_pct
    FROM bmd_changes WHERE significant AND direction = 'decrease'
    GROUP BY exam_id
), loss_flags AS (
    SELECT exam_id, string_agg(DISTINCT code, '; ' ORDER BY code) AS loss_flags
    FROM flags WHERE code IN ('SIGNIFICANT_BMD_LOSS', 'LOSS_ON_TREATMENT')
    GROUP BY exam_id
)
SELECT l.*, s.losses, s.largest_loss_pct, f.loss_flags
FROM latest_assessment_as_of(as_of) l
JOIN losses s USING (exam_id) LEFT JOIN loss_flags f USING (exam_id);

CREATE OR REPLACE VIEW v_significant_loss AS
SELECT * FROM significant_loss_as_of(current_date);

-- Quarantined rows of runs started on or before `as_of`, with the file and, where the row
-- was readable, its patient id: what a data manager fixes and sends again.
CREATE OR REPLACE MACRO quarantine_as_of(as_of) AS TABLE
SELECT q.run_id, r.started_at AS run_started_at, coalesce(q.path, s.path) AS path,
       q.file_sha256, q.row_number,
       CASE WHEN json_valid(q.raw) THEN json_extract_string(q.raw, '$.patient_id') END
           AS patient_id,
       q.exam_id, q.errors, q.raw
FROM quarantine q LEFT JOIN runs r USING (run_id) LEFT JOIN source_files s USING (file_sha256)
WHERE r.started_at IS NULL OR CAST(r.started_at AS DATE) <= CAST(as_of AS DATE);

CREATE OR REPLACE VIEW v_quarantine AS
SELECT * FROM quarantine_as_of(current_date);
