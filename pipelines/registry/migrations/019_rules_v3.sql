-- Clinical rules version 3 (docs/clinical-rules.md sections 4a, 5a, 7a): what an assessment
-- adds. The FRAX the treatment lines read after the ISCD/IOF adjustments (the recorded FRAX
-- stays in `exams`), the CAROC 10-year fracture risk and the rules that set it (written
-- under every ruleset), and the history rules that changed the exam's inputs. Assessments
-- made before this migration (rulesets @2 and earlier) did not compute them: null. The
-- rule catalog gains each rule's caveat (section 11: CAROC is calibrated on Canadian data,
-- FRAX adjustments are rules of thumb), beside its departure from the guidelines.
--
-- No view changes: the latest-exam views and macros select `a.*` from assessments, so they
-- show the new columns as they are.

ALTER TABLE assessments ADD COLUMN frax_major_adjusted DOUBLE;
ALTER TABLE assessments ADD COLUMN frax_hip_adjusted DOUBLE;
ALTER TABLE assessments ADD COLUMN caroc_risk VARCHAR;
ALTER TABLE assessments ADD COLUMN caroc_reasons VARCHAR[];
ALTER TABLE assessments ADD COLUMN history_used VARCHAR[];
ALTER TABLE rules ADD COLUMN caveat VARCHAR;
