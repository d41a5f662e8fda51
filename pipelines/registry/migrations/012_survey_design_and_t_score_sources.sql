-- Side tables beside `exams`, one row per exam (survey_design) or exam x site
-- (t_score_sources), keyed by exam_id (no key index, like exams: migration 006).
--
-- survey_design: the complex-sample design of exams that come from a national survey
-- (NHANES): the survey cycle, the MEC exam weight (WTMECPRP for 2017-March 2020,
-- WTMEC2YR for two-year cycles), the masked variance pseudo-PSU (SDMVPSU) and
-- pseudo-stratum (SDMVSTRA). `dxa prevalence --weights survey` needs it; registry exams
-- have no row here.
CREATE TABLE survey_design (
    exam_id VARCHAR NOT NULL,
    cycle VARCHAR NOT NULL,
    weight_mec DOUBLE,
    psu BIGINT,
    stratum BIGINT,
    file_sha256 VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL
);

-- t_score_sources: every T-score the pipeline computed from BMD (transforms/tscore.py)
-- rather than took as reported: the reference it came from, and the source's own T-score
-- when `dxa run --t-reference` replaced one (null when the source gave none).
CREATE TABLE t_score_sources (
    exam_id VARCHAR NOT NULL,
    site VARCHAR NOT NULL,
    t_reference VARCHAR NOT NULL,
    t_score DOUBLE,
    reported_t_score DOUBLE,
    file_sha256 VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL
);
