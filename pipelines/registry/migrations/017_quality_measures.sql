-- Quality measures (the quality-measures spec, section 1): what a registry's quality team
-- reports each quarter. Each measure is a macro `qm_*(periods, report_date,
-- chosen_ruleset)` returning its cases in each period of `periods` (a list of
-- {period_first, period_last} structs, both days counted): one row per period and unit of
-- its denominator (an exam or a patient, with that exam's scanner, sex and age),
-- `numerator` true where the unit is in the numerator. Several periods in one call share
-- the work over the exams (a quarter and the 8 quarters of its trend: one pass).
-- `quality_measure_cases` stacks the measures; `quality_measures_over` counts them overall,
-- by scanner, by sex and by age band, with a 95 % Wilson interval; `quality_measures(first
-- day, last day)` is one period as of today.
-- The measures' IDs, wordings, sources and directions are data:
-- pipelines/registry/quality_measures.toml names each measure's macro here.
-- A new measure: a migration that creates its qm_* macro and replaces
-- quality_measure_cases with one more UNION ALL arm, and one entry in that file.
-- Small cells are NOT suppressed here (analysts inside the registry see every count);
-- everything that leaves the registry (`dxa measures`) shows a denominator under 11 as
-- suppressed.

-- Age bands, as data: `standard` (<50, 50-64, 65-74, 75+) and HEDIS OMW's own band
-- (women 67-85). An age counts in a band when its whole years are within min_age and
-- max_age (both counted; null: no bound).
CREATE OR REPLACE MACRO quality_measure_age_bands() AS TABLE
SELECT * FROM (VALUES
    ('standard', '<50', 1, CAST(NULL AS INTEGER), 49),
    ('standard', '50-64', 2, 50, 64),
    ('standard', '65-74', 3, 65, 74),
    ('standard', '75+', 4, 75, CAST(NULL AS INTEGER)),
    ('hedis_omw', '67-85', 1, 67, 85)
) AS bands(band_set, band, band_order, min_age, max_age);

-- The periods of a `periods` list as rows.
CREATE OR REPLACE MACRO quality_measure_periods(periods) AS TABLE
SELECT DISTINCT CAST(p.period_first AS DATE) AS period_first,
       CAST(p.period_last AS DATE) AS period_last
FROM (SELECT unnest(periods) AS p);

-- Every exam on or before `report_date`, with what the measures ask of it: on treatment
-- (the input's on_treatment; blank counts as not), a fracture recorded on it or on any
-- earlier (or same-day) exam of the patient (history counts), whether it holds a central
-- site (spine, femoral neck or total hip with a T- or Z-score) and the lowest central
-- T-score, its place among the patient's exams (first; the next exam's date, ties by
-- exam_id; the next central exam's date on a later day), `chosen_ruleset`'s decisions,
-- and the patient's first exam with treatment recommended.
CREATE OR REPLACE MACRO quality_measure_exams(report_date, chosen_ruleset) AS TABLE
WITH central AS (
    SELECT exam_id, min(t_score) AS lowest_central_t
    FROM measurements
    WHERE site IN ('spine', 'femoral_neck', 'total_hip')
      AND (t_score IS NOT NULL OR z_score IS NOT NULL)
    GROUP BY exam_id
), decisions AS (
    SELECT exam_id, treatment, next_dxa_due FROM assessments WHERE ruleset = chosen_ruleset
), marked AS (
    SELECT x.exam_id, x.patient_id, x.exam_date, x.sex, x.age_years, x.scanner_serial,
           x.bmi, x.glucocorticoid_mg_day, x.glucocorticoid_months, x.parent_hip_fracture,
           x.alcohol_units_day, x.vertebral_fracture,
           coalesce(x.on_treatment, false) AS treated,
           coalesce(x.prior_fragility_fracture, false) OR coalesce(x.vertebral_fracture, false)
               OR coalesce(len(x.prior_fracture_sites), 0) > 0 AS fracture_here,
           c.exam_id IS NOT NULL AS has_central, c.lowest_central_t,
           d.treatment, d.next_dxa_due
    FROM exams x
    LEFT JOIN central c ON c.exam_id = x.exam_id
    LEFT JOIN decisions d ON d.exam_id = x.exam_id
    WHERE x.exam_date <= CAST(report_date AS DATE)
)
SELECT *,
       bool_or(fracture_here) OVER (PARTITION BY patient_id ORDER BY exam_date
           RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS fracture_ever,
       row_number() OVER (PARTITION BY patient_id ORDER BY exam_date, exam_id) AS exam_number,
       lead(exam_date) OVER (PARTITION BY patient_id ORDER BY exam_date, exam_id)
           AS next_exam_date,
       min(CASE WHEN has_central THEN exam_date END) OVER (
           PARTITION BY patient_id ORDER BY exam_date
           RANGE BETWEEN INTERVAL 1 DAY FOLLOWING AND UNBOUNDED FOLLOWING)
           AS next_central_date,
       min(CASE WHEN treatment = 'recommended' THEN exam_date END) OVER (
           PARTITION BY patient_id) AS first_recommended
FROM marked;

-- QM-LOW-RISK-SCREEN: women aged 50-64 at their first exam in the registry, made in the
-- period; numerator: none of the CMS risk factors the registry holds.
CREATE OR REPLACE MACRO qm_low_risk_screen(periods, report_date, chosen_ruleset) AS TABLE
SELECT p.period_first, p.period_last, 'QM-LOW-RISK-SCREEN' AS measure_id, x.patient_id,
       x.exam_id, x.exam_date, x.scanner_serial, x.sex, x.age_years,
       NOT (x.fracture_ever OR x.treated
            OR coalesce(x.glucocorticoid_mg_day >= 5 AND x.glucocorticoid_months >= 3, false)
            OR coalesce(x.bmi <= 20, false) OR coalesce(x.parent_hip_fracture, false)
            OR coalesce(x.alcohol_units_day > 2, false)
            OR coalesce(x.vertebral_fracture, false)) AS numerator
FROM quality_measure_exams(report_date, chosen_ruleset) x
JOIN quality_measure_periods(periods) p
    ON x.exam_date BETWEEN p.period_first AND p.period_last
WHERE x.exam_number = 1 AND x.sex = 'F' AND floor(x.age_years) BETWEEN 50 AND 64;

-- QM-REPEAT-TOO-SOON: repeat visits in the period (a patient's same-day exams are one
-- visit: the larger exam_id) whose previous visit with a central site (an earlier day)
-- had a lowest central T > -1.5 and no fracture (history counts), not on treatment at
-- either; numerator: fewer than 730 days between the two.
CREATE OR REPLACE MACRO qm_repeat_too_soon(periods, report_date, chosen_ruleset) AS TABLE
WITH x AS (
    SELECT * FROM quality_measure_exams(report_date, chosen_ruleset)
), visits AS (
    SELECT p.period_first, p.period_last, x.*
    FROM x JOIN quality_measure_periods(periods) p
        ON x.exam_date BETWEEN p.period_first AND p.period_last
    WHERE coalesce(x.next_exam_date > x.exam_date, true)
), central_visits AS (
    SELECT patient_id, exam_date, min(lowest_central_t) AS lowest_t,
           bool_or(treated) AS treated, bool_or(fracture_ever) AS fracture_ever
    FROM x WHERE has_central GROUP BY patient_id, exam_date
)
SELECT v.period_first, v.period_last, 'QM-REPEAT-TOO-SOON' AS measure_id, v.patient_id,
       v.exam_id, v.exam_date, v.scanner_serial, v.sex, v.age_years,
       v.exam_date - c.exam_date < 730 AS numerator
FROM visits v ASOF JOIN central_visits c
    ON v.patient_id = c.patient_id AND v.exam_date > c.exam_date
WHERE NOT v.treated AND NOT c.treated AND c.lowest_t > -1.5 AND NOT c.fracture_ever;

-- QM-FOLLOWUP-KEPT: patients whose latest exam on or before the period's end (ties: the
-- larger exam_id) has its next DXA due in the period and at least 90 days before the
-- report date; numerator: a later exam with a central site on or before the due date +
-- 90 days (and on or before the report date).
CREATE OR REPLACE MACRO qm_followup_kept(periods, report_date, chosen_ruleset) AS TABLE
SELECT p.period_first, p.period_last, 'QM-FOLLOWUP-KEPT' AS measure_id, x.patient_id,
       x.exam_id, x.exam_date, x.scanner_serial, x.sex, x.age_years,
       coalesce(x.next_central_date <= x.next_dxa_due + 90, false) AS numerator
FROM quality_measure_exams(report_date, chosen_ruleset) x
JOIN quality_measure_periods(periods) p
    ON x.next_dxa_due BETWEEN p.period_first AND p.period_last
WHERE x.exam_date <= p.period_last AND coalesce(x.next_exam_date > p.period_last, true)
  AND x.next_dxa_due <= CAST(report_date AS DATE) - 90;

-- QM-TREATMENT-GAP: patients with treatment `recommended` at an exam and a later exam in
-- the period at least 180 days after it (their latest such exam; an exam on a drug
-- holiday is never counted); numerator: not on treatment at that later exam.
CREATE OR REPLACE MACRO qm_treatment_gap(periods, report_date, chosen_ruleset) AS TABLE
SELECT p.period_first, p.period_last, 'QM-TREATMENT-GAP' AS measure_id, x.patient_id,
       x.exam_id, x.exam_date, x.scanner_serial, x.sex, x.age_years,
       NOT x.treated AS numerator
FROM quality_measure_exams(report_date, chosen_ruleset) x
JOIN quality_measure_periods(periods) p
    ON x.exam_date BETWEEN p.period_first AND p.period_last
WHERE x.exam_date >= x.first_recommended + 180
  AND coalesce(x.treatment, '') <> 'drug_holiday'
QUALIFY row_number() OVER (PARTITION BY p.period_first, p.period_last, x.patient_id
                           ORDER BY x.exam_date DESC, x.exam_id DESC) = 1;

-- Every measure's cases in each period (one row per period and denominator unit).
CREATE OR REPLACE MACRO quality_measure_cases(periods, report_date, chosen_ruleset) AS TABLE
SELECT * FROM qm_low_risk_screen(periods, report_date, chosen_ruleset)
UNION ALL
SELECT * FROM qm_repeat_too_soon(periods, report_date, chosen_ruleset)
UNION ALL
SELECT * FROM qm_followup_kept(periods, report_date, chosen_ruleset)
UNION ALL
SELECT * FROM qm_treatment_gap(periods, report_date, chosen_ruleset);

-- The measures counted per period: one row per period, measure and group (overall,
-- scanner, sex, age band of `chosen_band_set`), denominator, numerator, rate and its 95 %
-- Wilson interval (z = 1.959963984540054, the normal's 97.5th percentile).
CREATE OR REPLACE MACRO quality_measures_over(periods, report_date, chosen_ruleset,
                                              chosen_band_set) AS TABLE
WITH cases AS (
    SELECT c.period_first, c.period_last, c.measure_id, c.numerator,
           coalesce(c.scanner_serial, 'unknown') AS scanner, c.sex,
           coalesce(b.band, 'outside the bands') AS age_band
    FROM quality_measure_cases(periods, report_date, chosen_ruleset) c
    LEFT JOIN quality_measure_age_bands() b
        ON b.band_set = chosen_band_set
       AND floor(c.age_years) >= coalesce(b.min_age, 0)
       AND floor(c.age_years) <= coalesce(b.max_age, 1000)
), counted AS (
    SELECT period_first, period_last, measure_id,
           CASE grouping(scanner, sex, age_band)
                WHEN 7 THEN 'overall' WHEN 3 THEN 'scanner' WHEN 5 THEN 'sex'
                ELSE 'age_band' END AS grp_by,
           coalesce(scanner, sex, age_band, 'all') AS grp,
           count(*) AS denominator, count(*) FILTER (WHERE numerator) AS numerator
    FROM cases
    GROUP BY GROUPING SETS (
        (period_first, period_last, measure_id),
        (period_first, period_last, measure_id, scanner),
        (period_first, period_last, measure_id, sex),
        (period_first, period_last, measure_id, age_band))
), rated AS (
    SELECT *, numerator / denominator AS p, 1.959963984540054 AS z FROM counted
)
SELECT period_first, period_last, measure_id, grp_by, grp, denominator, numerator,
       p AS rate,
       greatest(0.0, (p + z * z / (2 * denominator)
            - z * sqrt(p * (1 - p) / denominator + z * z / (4 * denominator * denominator)))
           / (1 + z * z / denominator)) AS ci_low,
       least(1.0, (p + z * z / (2 * denominator)
            + z * sqrt(p * (1 - p) / denominator + z * z / (4 * denominator * denominator)))
           / (1 + z * z / denominator)) AS ci_high
FROM rated;

-- One period as of a report date, under a ruleset, with a set of age bands.
-- (The periods' columns are period_first and period_last, not period_start and
-- period_end: DuckDB would take those for these parameters when one macro calls another.)
CREATE OR REPLACE MACRO quality_measures_as_of(period_start, period_end, report_date,
                                               chosen_ruleset, chosen_band_set) AS TABLE
SELECT measure_id, grp_by, grp, denominator, numerator, rate, ci_low, ci_high
FROM quality_measures_over(
    [{'period_first': CAST(period_start AS DATE), 'period_last': CAST(period_end AS DATE)}],
    report_date, chosen_ruleset, chosen_band_set);

-- The measures over a period as of today, decisions under the registry's primary
-- ruleset, standard age bands.
CREATE OR REPLACE MACRO quality_measures(period_start, period_end) AS TABLE
SELECT * FROM quality_measures_as_of(period_start, period_end, current_date,
                                     registry_primary_ruleset(), 'standard');

-- The last complete calendar quarter before today.
CREATE OR REPLACE VIEW v_quality_measures AS
SELECT CAST(date_trunc('quarter', current_date) - INTERVAL 3 MONTH AS DATE) AS period_start,
       CAST(date_trunc('quarter', current_date) - INTERVAL 1 DAY AS DATE) AS period_end,
       *
FROM quality_measures(CAST(date_trunc('quarter', current_date) - INTERVAL 3 MONTH AS DATE),
                      CAST(date_trunc('quarter', current_date) - INTERVAL 1 DAY AS DATE));
