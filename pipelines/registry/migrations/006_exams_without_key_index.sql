-- `exams` loses its primary-key index; exam ids stay unique, kept so by the loader.
--
-- Why: DuckDB keeps a key as an ART index that must fit in memory and is updated and
-- written on every load. On a million-exam load it cost ~0.8 s of ~8 s (insert and
-- commit), and it grows with the registry, while every id it would refuse is already
-- refused earlier, with a reason a person can act on: an id repeated within a file is a
-- duplicate or a quarantined conflict (whole-file verdicts, also for files read in
-- batches), an id already in the registry is a duplicate or a quarantined conflict
-- (`pipelines.load.registry_overlap`), and `pipelines.load` refuses a batch whose ids
-- are not unique before writing anything (AccountingError). One process writes the
-- registry at a time (DuckDB's file lock), inside one transaction per file.
-- `dxa report` counts ids held more than once (0 is the only good answer), and
-- tests/test_flow.py checks uniqueness after reloads, resends, rulesets and back-fills.
-- DuckDB cannot drop a key in place, so the table is rebuilt (views re-bind by name).

CREATE TABLE exams_rebuilt (
    exam_id VARCHAR NOT NULL,
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
INSERT INTO exams_rebuilt SELECT * FROM exams;
DROP TABLE exams;
ALTER TABLE exams_rebuilt RENAME TO exams;
