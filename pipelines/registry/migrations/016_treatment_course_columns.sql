-- The contract's optional treatment-course columns (registry contract section 1): the
-- osteoporosis drug taken now, when it (or its class) was started, and the date of the
-- most recent fragility fracture. Exams loaded before this migration did not record them:
-- null, as for a file without the columns.
--
-- No view changes: `measurements` and the latest-exam macros name their columns, and
-- none of them shows these yet.

ALTER TABLE exams ADD COLUMN treatment_drug VARCHAR;
ALTER TABLE exams ADD COLUMN treatment_start_date DATE;
ALTER TABLE exams ADD COLUMN last_fracture_date DATE;
