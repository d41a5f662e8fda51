-- Core registry tables of the registry contract (§3). Column names are public: add, never rename.
CREATE TABLE runs (
    run_id VARCHAR PRIMARY KEY,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status VARCHAR NOT NULL,            -- running | completed | failed
    ruleset VARCHAR NOT NULL,           -- ID@VERSION
    rows_read BIGINT DEFAULT 0,
    rows_loaded BIGINT DEFAULT 0,
    rows_quarantined BIGINT DEFAULT 0,
    rows_duplicate BIGINT DEFAULT 0,
    files_loaded INTEGER DEFAULT 0,
    files_skipped INTEGER DEFAULT 0,
    files_failed INTEGER DEFAULT 0,
    message VARCHAR
);

-- One row per distinct file content (sha256): the first run that loaded it, or its failure.
CREATE TABLE source_files (
    file_sha256 VARCHAR PRIMARY KEY,
    path VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    status VARCHAR NOT NULL,            -- loaded | failed
    source_format VARCHAR,
    vendor VARCHAR,
    rows_read BIGINT,
    rows_loaded BIGINT,
    rows_quarantined BIGINT,
    rows_duplicate BIGINT,
    extra_columns VARCHAR[],
    error VARCHAR,
    recorded_at TIMESTAMP NOT NULL
);

-- What each run did with each file: loaded, skipped (already loaded), assessed (already
-- loaded, new ruleset added), failed.
CREATE TABLE run_files (
    run_id VARCHAR NOT NULL,
    file_sha256 VARCHAR,
    path VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    ruleset VARCHAR NOT NULL,
    rows_read BIGINT,
    rows_loaded BIGINT,
    rows_quarantined BIGINT,
    rows_duplicate BIGINT,
    assessments_added BIGINT,
    error VARCHAR,
    recorded_at TIMESTAMP NOT NULL
);

CREATE TABLE exams (
    exam_id VARCHAR PRIMARY KEY,
    patient_id VARCHAR NOT NULL,
    exam_date DATE NOT NULL,
    birth_date DATE,
    age_years DOUBLE NOT NULL,
    sex VARCHAR NOT NULL,
    menopausal_status VARCHAR,
    height_cm DOUBLE,
    weight_kg DOUBLE,
    bmi DOUBLE,
    scanner_manufacturer VARCHAR,
    scanner_model VARCHAR,
    scanner_serial VARCHAR,
    spine_bmd DOUBLE,
    spine_t DOUBLE,
    spine_z DOUBLE,
    spine_vertebrae BIGINT,
    femoral_neck_bmd DOUBLE,
    femoral_neck_t DOUBLE,
    femoral_neck_z DOUBLE,
    total_hip_bmd DOUBLE,
    total_hip_t DOUBLE,
    total_hip_z DOUBLE,
    hip_side VARCHAR,
    radius_33_bmd DOUBLE,
    radius_33_t DOUBLE,
    radius_33_z DOUBLE,
    prior_fragility_fracture BOOLEAN,
    vertebral_fracture BOOLEAN,
    glucocorticoid_mg_day DOUBLE,
    glucocorticoid_months DOUBLE,
    parent_hip_fracture BOOLEAN,
    parent_hip_fracture_age DOUBLE,
    height_loss_cm DOUBLE,
    current_smoker BOOLEAN,
    alcohol_units_day DOUBLE,
    kyphosis BOOLEAN,
    back_pain BOOLEAN,
    on_treatment BOOLEAN,
    frax_major_pct DOUBLE,
    frax_hip_pct DOUBLE,
    source_format VARCHAR NOT NULL,      -- canonical_csv | hologic_apex | ge_lunar_dicom
    vendor VARCHAR,
    file_sha256 VARCHAR NOT NULL,
    source_row_number BIGINT NOT NULL,
    run_id VARCHAR NOT NULL
);

CREATE TABLE measurements (
    exam_id VARCHAR NOT NULL,
    site VARCHAR NOT NULL,               -- spine | femoral_neck | total_hip | radius_33
    bmd_g_cm2 DOUBLE,
    t_score DOUBLE,
    z_score DOUBLE,
    hip_side VARCHAR,
    vertebrae BIGINT,
    PRIMARY KEY (exam_id, site)
);

CREATE TABLE assessments (
    exam_id VARCHAR NOT NULL,
    ruleset VARCHAR NOT NULL,            -- ID@VERSION
    basis VARCHAR NOT NULL,
    diagnostic_site VARCHAR,
    diagnostic_t_score DOUBLE,
    diagnostic_z_score DOUBLE,
    who_category VARCHAR,
    z_category VARCHAR,
    high_risk_features VARCHAR[],
    risk_factor_count INTEGER,
    treatment VARCHAR NOT NULL,
    reasons VARCHAR[],
    first_line_therapy VARCHAR,
    secondary_cause_workup BOOLEAN,
    vfa_recommended BOOLEAN,
    next_dxa_due DATE,
    lifestyle VARCHAR[],
    run_id VARCHAR NOT NULL,
    PRIMARY KEY (exam_id, ruleset)
);

CREATE TABLE flags (
    exam_id VARCHAR NOT NULL,
    code VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,           -- info | warning | high
    detail VARCHAR,
    ruleset VARCHAR,                     -- null for flags that do not depend on a ruleset
    run_id VARCHAR NOT NULL
);

CREATE TABLE quarantine (
    run_id VARCHAR NOT NULL,
    file_sha256 VARCHAR,
    row_number BIGINT,                   -- 1 = first data row of the file
    exam_id VARCHAR,
    errors VARCHAR NOT NULL,
    raw VARCHAR,
    source_format VARCHAR,
    path VARCHAR
);
