-- "Latest exam" is the patient's latest exam in `exams`, whatever ruleset assessed it; each
-- ruleset's assessment of THAT exam is joined (no assessment under a ruleset: no row for it).
-- 002 took the latest assessed exam per ruleset, so a ruleset run once long ago made an old
-- exam "latest" for that ruleset (false overdue rows and treatment candidates), and
-- followup_overdue(as_of) looked at exams made after as_of.
-- Upgrades in place: same names and columns, CREATE OR REPLACE only.

-- Each patient's latest exam on or before `as_of` (ties: the larger exam_id), with every
-- ruleset's assessment of it: what a quality team would have seen that day.
CREATE OR REPLACE MACRO latest_assessment_as_of(as_of) AS TABLE
WITH latest_exam AS (
    SELECT exam_id, patient_id, exam_date, sex, age_years, scanner_serial, on_treatment
    FROM exams
    WHERE exam_date <= CAST(as_of AS DATE)
    QUALIFY row_number() OVER (PARTITION BY patient_id
                               ORDER BY exam_date DESC, exam_id DESC) = 1
)
SELECT e.patient_id, e.exam_date, e.sex, e.age_years, e.scanner_serial, e.on_treatment,
       a.*
FROM latest_exam e JOIN assessments a USING (exam_id);

-- Latest exam per patient (every exam counts), one row per ruleset that assessed it.
CREATE OR REPLACE VIEW v_latest_assessment AS
SELECT * FROM latest_assessment_as_of(DATE 'infinity');

-- Treatment recommended or to consider, and not on treatment (latest exam per patient).
CREATE OR REPLACE VIEW v_treatment_candidates AS
SELECT * FROM v_latest_assessment
WHERE treatment IN ('recommended', 'consider') AND coalesce(on_treatment, false) = false;

-- Follow-up overdue as of a date (MON-OVERDUE): the latest exam on or before that date has a
-- next DXA due date before it; exams made after the date do not count.
CREATE OR REPLACE MACRO followup_overdue(as_of) AS TABLE
SELECT *, CAST(as_of AS DATE) - next_dxa_due AS days_overdue
FROM latest_assessment_as_of(as_of)
WHERE next_dxa_due IS NOT NULL AND next_dxa_due < CAST(as_of AS DATE);

CREATE OR REPLACE VIEW v_followup_overdue AS
SELECT * FROM followup_overdue(current_date);
