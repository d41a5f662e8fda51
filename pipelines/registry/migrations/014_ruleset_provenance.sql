-- Ruleset provenance: a ruleset is known by `ID@VERSION` and its content. One row per
-- ruleset the registry has used, with the sha256 and the text of the file that judged its
-- exams, so that every assessment (`assessments.ruleset`) traces back to that content. A
-- file whose id and version are held here with another sha256 is refused before anything
-- is written (pipelines/rulesets_store.py).
CREATE TABLE IF NOT EXISTS rulesets (
    ruleset VARCHAR PRIMARY KEY,         -- ID@VERSION
    sha256 VARCHAR NOT NULL,             -- of the file's bytes
    content VARCHAR NOT NULL,            -- the file's text
    path VARCHAR,                        -- where it was read from (as given)
    first_used_at TIMESTAMP NOT NULL
);

-- Registry-wide settings: `primary_ruleset` is the registry's own ruleset (set by the first
-- run, changed with `dxa rulesets primary`).
CREATE TABLE IF NOT EXISTS registry_settings (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Rulesets side by side on each patient's latest exam on or before `as_of` (ties: the
-- larger exam_id, as in latest_assessment_as_of): one row per patient and ordered pair of
-- rulesets that both judged that exam, with the rule IDs (`reasons`) that fired under one
-- of the two and not the other.
CREATE OR REPLACE MACRO ruleset_pairs(as_of) AS TABLE
WITH latest_exam AS (
    SELECT exam_id, patient_id, exam_date
    FROM exams
    WHERE exam_date <= CAST(as_of AS DATE)
    QUALIFY row_number() OVER (PARTITION BY patient_id
                               ORDER BY exam_date DESC, exam_id DESC) = 1
)
SELECT e.patient_id, e.exam_id, e.exam_date,
       a.ruleset AS ruleset_a, b.ruleset AS ruleset_b,
       a.treatment AS treatment_a, b.treatment AS treatment_b,
       coalesce(a.who_category, 'none') AS who_a, coalesce(b.who_category, 'none') AS who_b,
       list_sort(list_concat(
           list_filter(coalesce(a.reasons, []),
                       lambda x: NOT list_contains(coalesce(b.reasons, []), x)),
           list_filter(coalesce(b.reasons, []),
                       lambda x: NOT list_contains(coalesce(a.reasons, []), x))
       )) AS reasons_differing
FROM latest_exam e
JOIN assessments a ON a.exam_id = e.exam_id
JOIN assessments b ON b.exam_id = e.exam_id AND b.ruleset <> a.ruleset;

-- Two named rulesets (`ID@VERSION`) side by side: what `dxa compare` counts.
CREATE OR REPLACE MACRO ruleset_comparison(first_ruleset, second_ruleset, as_of) AS TABLE
SELECT * FROM ruleset_pairs(as_of)
WHERE ruleset_a = first_ruleset AND ruleset_b = second_ruleset;

-- The registry's primary ruleset beside each other ruleset it holds, on the latest exams.
CREATE OR REPLACE VIEW v_ruleset_comparison AS
SELECT * FROM ruleset_pairs(DATE 'infinity')
WHERE ruleset_a = (SELECT value FROM registry_settings WHERE key = 'primary_ruleset');

-- The registry's primary ruleset: the one set in registry_settings, or (a registry from
-- before this migration, until its next run) the ruleset of its latest completed run.
CREATE OR REPLACE MACRO registry_primary_ruleset() AS (
    coalesce((SELECT value FROM registry_settings WHERE key = 'primary_ruleset'),
             (SELECT ruleset FROM runs WHERE status = 'completed'
              ORDER BY started_at DESC LIMIT 1)));

-- The readers' views show the primary ruleset only, so that each patient counts once
-- (a what-if ruleset's assessments beside it no longer double the rows). Another
-- ruleset: the *_for(ruleset) macros below, or the *_as_of(as_of) macros filtered on
-- their `ruleset` column. Same names and columns as before: CREATE OR REPLACE only.
CREATE OR REPLACE MACRO latest_assessment_for(chosen_ruleset) AS TABLE
SELECT * FROM latest_assessment_as_of(DATE 'infinity') WHERE ruleset = chosen_ruleset;

CREATE OR REPLACE VIEW v_latest_assessment AS
SELECT * FROM latest_assessment_as_of(DATE 'infinity')
WHERE ruleset = coalesce(registry_primary_ruleset(), ruleset);

CREATE OR REPLACE MACRO treatment_candidates_for(chosen_ruleset) AS TABLE
SELECT * FROM treatment_candidates_as_of(DATE 'infinity') WHERE ruleset = chosen_ruleset;

CREATE OR REPLACE VIEW v_treatment_candidates AS
SELECT * FROM treatment_candidates_as_of(DATE 'infinity')
WHERE ruleset = coalesce(registry_primary_ruleset(), ruleset);

CREATE OR REPLACE MACRO followup_overdue_for(chosen_ruleset) AS TABLE
SELECT * FROM followup_overdue(current_date) WHERE ruleset = chosen_ruleset;

CREATE OR REPLACE VIEW v_followup_overdue AS
SELECT * FROM followup_overdue(current_date)
WHERE ruleset = coalesce(registry_primary_ruleset(), ruleset);

CREATE OR REPLACE MACRO secondary_cause_workup_for(chosen_ruleset) AS TABLE
SELECT * FROM secondary_cause_workup_as_of(current_date) WHERE ruleset = chosen_ruleset;

CREATE OR REPLACE VIEW v_secondary_cause_workup AS
SELECT * FROM secondary_cause_workup_as_of(current_date)
WHERE ruleset = coalesce(registry_primary_ruleset(), ruleset);

CREATE OR REPLACE MACRO vfa_candidates_for(chosen_ruleset) AS TABLE
SELECT * FROM vfa_candidates_as_of(current_date) WHERE ruleset = chosen_ruleset;

CREATE OR REPLACE VIEW v_vfa_candidates AS
SELECT * FROM vfa_candidates_as_of(current_date)
WHERE ruleset = coalesce(registry_primary_ruleset(), ruleset);

CREATE OR REPLACE MACRO significant_loss_for(chosen_ruleset) AS TABLE
SELECT * FROM significant_loss_as_of(current_date) WHERE ruleset = chosen_ruleset;

CREATE OR REPLACE VIEW v_significant_loss AS
SELECT * FROM significant_loss_as_of(current_date)
WHERE ruleset = coalesce(registry_primary_ruleset(), ruleset);
