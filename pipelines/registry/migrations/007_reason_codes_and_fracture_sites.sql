-- Quarantine reasons as data (every quarantine row lists its reason codes beside the
-- text), and the exams' prior fracture sites.
--
-- `errors` stays the text users read (every failed check, joined with '; '); the codes
-- and their wording live in one module, `schemas/reasons.py`. `reason_codes` holds one
-- code per reason, in the order of the messages in `errors`. Rows written before this
-- migration have no codes (null).

ALTER TABLE quarantine ADD COLUMN reason_codes VARCHAR[];

-- The contract's optional `prior_fracture_sites`: distinct site codes (hip, vertebral,
-- humerus, pelvis, forearm, other) in that order; null when not recorded.
ALTER TABLE exams ADD COLUMN prior_fracture_sites VARCHAR[];

-- Quarantine reasons counted by code (`item` is the code, as it is a flag's code for
-- flags); rows quarantined before reason codes existed are counted by their text.
CREATE OR REPLACE VIEW v_data_quality AS
SELECT q.run_id, q.file_sha256, coalesce(q.path, s.path) AS path, 'quarantine' AS kind,
       reason AS item, 'error' AS severity, count(*) AS n
FROM (SELECT *, unnest(coalesce(reason_codes, string_split(errors, '; '))) AS reason
      FROM quarantine) q
LEFT JOIN source_files s USING (file_sha256)
GROUP BY ALL
UNION ALL
SELECT f.run_id, e.file_sha256, s.path, 'flag' AS kind, f.code AS item, f.severity, count(*)
FROM flags f JOIN exams e USING (exam_id) LEFT JOIN source_files s USING (file_sha256)
GROUP BY ALL;
