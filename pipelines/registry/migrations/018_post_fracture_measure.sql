-- The fifth quality measure, QM-POST-FRACTURE (the quality-measures spec, section 1),
-- now that exams record last_fracture_date, treatment_start_date (migration 016).
-- `quality_measure_cases` is replaced with one more UNION ALL arm, same parameters and
-- columns; quality_measures_over, quality_measures_as_of, quality_measures and
-- v_quality_measures read it by name, so they count the fifth measure unchanged.

-- QM-POST-FRACTURE: patients whose exams record a last_fracture_date in the period and at
-- least 183 days before the report date (a patient with several such dates: the earliest);
-- the unit's exam is the first exam recording that fracture: the patient's earliest exam
-- (ties by exam_id), on or before the report date, whose last_fracture_date equals it.
-- Numerator: that exam dated 0-183 days after the fracture, or on treatment at that exam
-- with a treatment_start_date 0-183 days after the fracture. `chosen_ruleset` is not read
-- (no decision counts), kept for the common signature.
CREATE OR REPLACE MACRO qm_post_fracture(periods, report_date, chosen_ruleset) AS TABLE
WITH first_recording AS (
    SELECT exam_id, patient_id, exam_date, scanner_serial, sex, age_years,
           last_fracture_date AS fracture_date,
           coalesce(on_treatment, false)
               AND coalesce(treatment_start_date BETWEEN last_fracture_date
                                                     AND last_fracture_date + 183, false)
               AS treated_after
    FROM exams
    WHERE last_fracture_date IS NOT NULL AND exam_date <= CAST(report_date AS DATE)
    QUALIFY row_number() OVER (PARTITION BY patient_id, last_fracture_date
                               ORDER BY exam_date, exam_id) = 1
)
SELECT p.period_first, p.period_last, 'QM-POST-FRACTURE' AS measure_id, f.patient_id,
       f.exam_id, f.exam_date, f.scanner_serial, f.sex, f.age_years,
       f.exam_date BETWEEN f.fracture_date AND f.fracture_date + 183
           OR f.treated_after AS numerator
FROM first_recording f
JOIN quality_measure_periods(periods) p
    ON f.fracture_date BETWEEN p.period_first AND p.period_last
WHERE f.fracture_date <= CAST(report_date AS DATE) - 183
QUALIFY row_number() OVER (PARTITION BY p.period_first, p.period_last, f.patient_id
                           ORDER BY f.fracture_date, f.exam_date, f.exam_id) = 1;

-- Every measure's cases in each period (one row per period and denominator unit): the
-- four of migration 017 and QM-POST-FRACTURE.
CREATE OR REPLACE MACRO quality_measure_cases(periods, report_date, chosen_ruleset) AS TABLE
SELECT * FROM qm_low_risk_screen(periods, report_date, chosen_ruleset)
UNION ALL
SELECT * FROM qm_repeat_too_soon(periods, report_date, chosen_ruleset)
UNION ALL
SELECT * FROM qm_followup_kept(periods, report_date, chosen_ruleset)
UNION ALL
SELECT * FROM qm_treatment_gap(periods, report_date, chosen_ruleset)
UNION ALL
SELECT * FROM qm_post_fracture(periods, report_date, chosen_ruleset);
