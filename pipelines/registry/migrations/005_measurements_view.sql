-- `measurements` becomes a view over `exams`: one row per exam and measured site, the same
-- columns and rows as the table it replaces.
--
-- Why: every measurement is a copy of four columns of its exam (exams.<site>_bmd, _t, _z,
-- hip_side, spine_vertebrae); nothing else ever wrote it. Storing the copy made a
-- million-exam load write three million more rows (~0.8 s of ~10 s, and a third of the
-- registry file), and a copy can drift from its source; a view cannot.
-- The rows are those of `transforms.measurements.to_measurements`, which serial comparison
-- uses in memory: a site is listed when its BMD, T-score or Z-score is recorded; hip sites
-- carry the exam's hip_side; the spine carries its vertebra count (4 when not given).
-- tests/test_store.py holds the view equal to to_measurements of the loaded exams.
-- Every stored row was derived from its exam in exactly this way, so dropping it loses
-- nothing.

DROP TABLE measurements;

CREATE VIEW measurements AS
SELECT exam_id, 'spine' AS site, spine_bmd AS bmd_g_cm2, spine_t AS t_score,
       spine_z AS z_score, CAST(NULL AS VARCHAR) AS hip_side,
       coalesce(spine_vertebrae, 4) AS vertebrae
FROM exams
WHERE spine_bmd IS NOT NULL OR spine_t IS NOT NULL OR spine_z IS NOT NULL
UNION ALL
SELECT exam_id, 'total_hip', total_hip_bmd, total_hip_t, total_hip_z, hip_side,
       CAST(NULL AS BIGINT)
FROM exams
WHERE total_hip_bmd IS NOT NULL OR total_hip_t IS NOT NULL OR total_hip_z IS NOT NULL
UNION ALL
SELECT exam_id, 'femoral_neck', femoral_neck_bmd, femoral_neck_t, femoral_neck_z, hip_side,
       CAST(NULL AS BIGINT)
FROM exams
WHERE femoral_neck_bmd IS NOT NULL OR femoral_neck_t IS NOT NULL OR femoral_neck_z IS NOT NULL
UNION ALL
SELECT exam_id, 'radius_33', radius_33_bmd, radius_33_t, radius_33_z, CAST(NULL AS VARCHAR),
       CAST(NULL AS BIGINT)
FROM exams
WHERE radius_33_bmd IS NOT NULL OR radius_33_t IS NOT NULL OR radius_33_z IS NOT NULL;
