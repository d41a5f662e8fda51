-- The worklists behind the treatment course and the quality measures that name patients
-- (`dxa export drug-holiday-review`, `post-fracture-gap`, `treatment-gap`): each is a
-- macro `*_as_of(as_of)` (one row per patient and ruleset that assessed the listed exam,
-- as latest_assessment_as_of), a `*_for(ruleset)` macro (today, one ruleset) and a view
-- (today, the primary ruleset), as in migrations 011 and 014.
-- The two lists behind a measure hold that measure's cases on the wrong side of its
-- target, with the as-of date as the report date: a list equals the measure's cases for
-- its period, patient for patient. QM-TREATMENT-GAP's period: the year ending on the
-- as-of date (from the day after the same date a year earlier, up to and including it).
-- QM-POST-FRACTURE's: every fracture up to the as-of date, since the registry learns of
-- a fracture at the exam that records it, often more than a year after it.

-- The year ending on a date, as the quality measures' `periods` list.
CREATE OR REPLACE MACRO worklist_year_to(as_of) AS
[{'period_first': CAST(CAST(as_of AS DATE) - INTERVAL 1 YEAR + INTERVAL 1 DAY AS DATE),
  'period_last': CAST(as_of AS DATE)}];

-- TC-DRUG-HOLIDAY: patients whose latest exam on or before `as_of` flags
-- DRUG_HOLIDAY_REVIEW (a bisphosphonate course complete, nothing arguing for continuing),
-- with the drug, its start and the years on it.
CREATE OR REPLACE MACRO drug_holiday_review_as_of(as_of) AS TABLE
SELECT l.*, e.treatment_drug, e.treatment_start_date,
       round((l.exam_date - e.treatment_start_date) / 365.25, 1) AS years_on_treatment,
       e.total_hip_t, e.femoral_neck_t
FROM latest_assessment_as_of(as_of) l
JOIN exams e USING (exam_id)
WHERE l.exam_id IN (SELECT exam_id FROM flags WHERE code = 'DRUG_HOLIDAY_REVIEW');

CREATE OR REPLACE MACRO drug_holiday_review_for(chosen_ruleset) AS TABLE
SELECT * FROM drug_holiday_review_as_of(current_date) WHERE ruleset = chosen_ruleset;

CREATE OR REPLACE VIEW v_drug_holiday_review AS
SELECT * FROM drug_holiday_review_as_of(current_date)
WHERE ruleset = coalesce(registry_primary_ruleset(), ruleset);

-- QM-POST-FRACTURE's gaps: patients with a fracture (last_fracture_date; the earliest
-- when several) at least 183 days before `as_of` whose first exam recording it, on or
-- before `as_of`, was neither within 183 days after it nor on treatment started within
-- 183 days after it. The exam listed is that first exam recording the fracture.
CREATE OR REPLACE MACRO post_fracture_gap_as_of(as_of) AS TABLE
SELECT c.patient_id, c.exam_date, c.sex, c.age_years, c.scanner_serial, e.on_treatment,
       a.*, e.last_fracture_date AS fracture_date,
       c.exam_date - e.last_fracture_date AS days_fracture_to_exam, e.treatment_drug,
       e.treatment_start_date
FROM qm_post_fracture([{'period_first': DATE '0001-01-01',
                         'period_last': CAST(as_of AS DATE)}], as_of, NULL) c
JOIN exams e USING (exam_id)
JOIN assessments a USING (exam_id)
WHERE NOT c.numerator;

CREATE OR REPLACE MACRO post_fracture_gap_for(chosen_ruleset) AS TABLE
SELECT * FROM post_fracture_gap_as_of(current_date) WHERE ruleset = chosen_ruleset;

CREATE OR REPLACE VIEW v_post_fracture_gap AS
SELECT * FROM post_fracture_gap_as_of(current_date)
WHERE ruleset = coalesce(registry_primary_ruleset(), ruleset);

-- QM-TREATMENT-GAP's numerator: patients with treatment `recommended` at an exam (under
-- the ruleset) and a later exam in the year ending on `as_of`, at least 180 days after it
-- (the latest such), at which they were not on treatment. `recommended_on`: the first
-- exam with treatment recommended.
CREATE OR REPLACE MACRO treatment_gap_as_of(as_of) AS TABLE
WITH held AS (
    SELECT DISTINCT ruleset FROM assessments
), recommended AS (
    SELECT x.patient_id, a.ruleset, min(x.exam_date) AS recommended_on
    FROM exams x JOIN assessments a USING (exam_id)
    WHERE a.treatment = 'recommended'
    GROUP BY x.patient_id, a.ruleset
)
SELECT g.patient_id, g.exam_date, g.sex, g.age_years, g.scanner_serial, e.on_treatment,
       a.*, r.recommended_on, g.exam_date - r.recommended_on AS days_since_recommended,
       e.treatment_drug
FROM held h, qm_treatment_gap(worklist_year_to(as_of), as_of, h.ruleset) g
JOIN exams e ON e.exam_id = g.exam_id
JOIN assessments a ON a.exam_id = g.exam_id AND a.ruleset = h.ruleset
JOIN recommended r ON r.patient_id = g.patient_id AND r.ruleset = h.ruleset
WHERE g.numerator;

CREATE OR REPLACE MACRO treatment_gap_for(chosen_ruleset) AS TABLE
SELECT * FROM treatment_gap_as_of(current_date) WHERE ruleset = chosen_ruleset;

CREATE OR REPLACE VIEW v_treatment_gap AS
SELECT * FROM treatment_gap_as_of(current_date)
WHERE ruleset = coalesce(registry_primary_ruleset(), ruleset);
