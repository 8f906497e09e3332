{{ config(**per_year_config()) }}  -- per mapping year (decisions W6)
-- Every registration dropped by rule 3 (de-duplication), with the registration kept instead, the tie-break that
-- decided and whether the two were registered in different municipalities (codes as registered).
with registrations as (
    select * from {{ ref('int_deduplication') }}
    where {{ in_build_years() }}
),

final as (
    select
        submission_id,
        registration_id,
        person_id,
        mapping_year,
        municipality_code_registered,
        agency_code,
        mapped_on,
        completeness,
        kept_submission_id,
        kept_registration_id,
        kept_municipality_code_registered,
        deciding_tiebreak,
        is_cross_municipality
    from registrations
    where not is_kept
)

select * from final
