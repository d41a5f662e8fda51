-- The rule catalog in the registry: one row per rule and ruleset (`ID@VERSION`), written by
-- the load stage whenever a ruleset is used, so that a SQL user can join
-- `assessments.reasons` (and flags) to the wording a clinician signed off, e.g.
--   SELECT a.exam_id, r.rule_id, r.wording
--   FROM assessments a, unnest(a.reasons) AS u(rule_id) JOIN rules r
--     ON r.rule_id = u.rule_id AND r.ruleset = a.ruleset;
-- `parameters` maps each ruleset key the rule reads to that ruleset's value, as text
-- (`none` where the ruleset switches a line or an interval off).
CREATE TABLE rules (
    rule_id VARCHAR NOT NULL,
    ruleset VARCHAR NOT NULL,            -- ID@VERSION
    kind VARCHAR NOT NULL,               -- basis, site, category, risk, indication, fallback, ...
    wording VARCHAR NOT NULL,
    parameters MAP(VARCHAR, VARCHAR) NOT NULL,
    source VARCHAR NOT NULL,
    departure VARCHAR,                   -- where the rule departs from the guidelines
    implemented_in VARCHAR NOT NULL,     -- rules engine, serial-exam step or report views
    recorded_at TIMESTAMP NOT NULL
);
