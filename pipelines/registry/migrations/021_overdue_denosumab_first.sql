-- The overdue worklist lists patients on denosumab first (TC-DENOSUMAB: stopping without
-- a follow-on drug brings rebound vertebral fractures, so a missed follow-up matters more):
-- followup_overdue gains `denosumab` (the listed exam flags DENOSUMAB_NO_INTERRUPTION) as
-- its last column; same name and other columns, so the views and the _for macro built on
-- it are made again with it.

CREATE OR REPLACE MACRO followup_overdue(as_of) AS TABLE
SELECT *, CAST(as_of AS DATE) - next_dxa_due AS days_overdue,
       exam_id IN (SELECT exam_id FROM flags WHERE code = 'DENOSUMAB_NO_INTERRUPTION')
           AS denosumab
FROM latest_assessment_as_of(as_of)
WHERE next_dxa_due IS NOT NULL AND next_dxa_due < CAST(as_of AS DATE);

CREATE OR REPLACE MACRO followup_overdue_for(chosen_ruleset) AS TABLE
SELECT * FROM followup_overdue(current_date) WHERE ruleset = chosen_ruleset;

CREATE OR REPLACE VIEW v_followup_overdue AS
SELECT * FROM followup_overdue(current_date)
WHERE ruleset = coalesce(registry_primary_ruleset(), ruleset);
