-- The significant-loss list words each loss as the loss flag does (migration 015), and
-- the flag now adds "(region not verified)" after a comparison where a hip side was not
-- recorded on either exam (clinical rules section 7, CHG-LOSS): the list says so too, so
-- a reader of the list sees the same caution as a reader of the flag. Same name and
-- columns as before.
CREATE OR REPLACE MACRO significant_loss_as_of(as_of) AS TABLE
WITH site_losses AS (
    SELECT exam_id, site,
           string_agg(CAST(round(pct_change, 1) AS VARCHAR) || '% vs ' || comparison
                      || CASE WHEN region_verified = false THEN ' (region not verified)'
                              ELSE '' END, ', '
                      ORDER BY comparison DESC) AS parts,
           max(lsc_pct) AS lsc_pct, min(pct_change) AS largest_loss_pct
    FROM bmd_changes WHERE significant AND direction = 'decrease'
    GROUP BY exam_id, site
), losses AS (
    SELECT exam_id,
           string_agg(site || ' ' || parts || ' (LSC ' || CAST(round(lsc_pct, 1) AS VARCHAR)
                      || '%)', '; ' ORDER BY site) AS losses,
           min(largest_loss_pct) AS largest_loss_pct
    FROM site_losses GROUP BY exam_id
), loss_flags AS (
    SELECT exam_id, string_agg(DISTINCT code, '; ' ORDER BY code) AS loss_flags
    FROM flags WHERE code IN ('SIGNIFICANT_BMD_LOSS', 'LOSS_ON_TREATMENT')
    GROUP BY exam_id
)
SELECT l.*, s.losses, s.largest_loss_pct, f.loss_flags
FROM latest_assessment_as_of(as_of) l
JOIN losses s USING (exam_id) LEFT JOIN loss_flags f USING (exam_id);

CREATE OR REPLACE MACRO significant_loss_for(chosen_ruleset) AS TABLE
SELECT * FROM significant_loss_as_of(current_date) WHERE ruleset = chosen_ruleset;

CREATE OR REPLACE VIEW v_significant_loss AS
SELECT * FROM significant_loss_as_of(current_date)
WHERE ruleset = coalesce(registry_primary_ruleset(), ruleset);
