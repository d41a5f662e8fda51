-- Whose fracture risk to assess first (clinical rules version 3): patients whose latest
-- decision is `needs_risk_assessment` (osteopenia, FRAX not recorded), or `consider`
-- only through TX-RISK-FEATURES (high-risk features with FRAX missing). A clinic that
-- can compute FRAX for a few patients a day starts with the highest CAROC category
-- (`caroc_risk`, computed under every ruleset from age, sex, femoral neck T and two
-- clinical factors): high, moderate, low, then those CAROC cannot place.
CREATE OR REPLACE MACRO risk_assessment_needed_as_of(as_of) AS TABLE
SELECT l.*, CASE l.caroc_risk WHEN 'high' THEN 1 WHEN 'moderate' THEN 2
                              WHEN 'low' THEN 3 ELSE 4 END AS caroc_rank
FROM latest_assessment_as_of(as_of) l
WHERE l.treatment = 'needs_risk_assessment'
   OR (l.treatment = 'consider'
       AND list_contains(l.reasons, 'TX-RISK-FEATURES')
       AND list_contains(l.reasons, 'TX-FRAX-MISSING'));

CREATE OR REPLACE MACRO risk_assessment_needed_for(chosen_ruleset) AS TABLE
SELECT * FROM risk_assessment_needed_as_of(current_date) WHERE ruleset = chosen_ruleset;

CREATE OR REPLACE VIEW v_risk_assessment_needed AS
SELECT * FROM risk_assessment_needed_as_of(current_date)
WHERE ruleset = coalesce(registry_primary_ruleset(), ruleset);
