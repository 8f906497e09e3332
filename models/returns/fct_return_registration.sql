{{ config(**per_year_config()) }}  -- per mapping year (decisions W6)
-- Return packages (warehouse.md "Returning data to each municipality"): every current registration (rule 1) with
-- the municipality of the target structure its registered code harmonises to (rule 5), which is the package it
-- belongs in, and the de-duplication outcome (rule 3) as that municipality may see it: counted here, counted in
-- another municipality (not named), or dropped in favour of another registration of the same municipality
-- (named, with the deciding tie-break).
with registrations as (
    select * from {{ ref('int_deduplication') }}
    where {{ in_build_years() }}
),

placed as (
    {{ harmonised('registrations') }}
),

kept as (
    select
        person_id,
        mapping_year,
        submission_id,
        registration_id,
        municipality_code
    from placed
    where is_kept
),

final as (
    select
        placed.submission_id,
        placed.registration_id,
        placed.person_id,
        placed.mapping_year,
        placed.municipality_code,
        placed.municipality_code_registered,
        placed.is_approximate,
        placed.agency_code,
        placed.mapped_on,
        placed.sex,
        placed.birth_year,
        placed.age,
        placed.target_group,
        placed.has_children,
        placed.n_children,
        placed.custody,
        placed.pregnant,
        placed.education,
        placed.income_source,
        placed.injects,
        placed.violence_exposed,
        placed.substance_alcohol,
        placed.substance_cannabis,
        placed.substance_heroin,
        placed.substance_other_opioids,
        placed.substance_amphetamines,
        placed.substance_benzodiazepines,
        placed.area_housing,
        placed.area_activity,
        placed.area_economy,
        placed.area_physical_health,
        placed.area_mental_health,
        placed.area_substance_use,
        placed.area_social_functioning,
        placed.area_network,
        placed.living_index,
        placed.services_received,
        placed.services_recommended,
        placed.layout,
        placed.source_file,
        placed.source_sheet,
        placed.source_row,
        placed.delivered_on,
        placed.delivery_seq,
        placed.is_kept,
        placed.completeness,
        placed.agency_priority,
        case
            when placed.is_kept then 'counted'
            when kept.municipality_code = placed.municipality_code then 'dropped_for_own'
            else 'counted_elsewhere'
        end as dedup_outcome,
        case
            when not placed.is_kept and kept.municipality_code = placed.municipality_code
                then kept.submission_id
        end as own_kept_submission_id,
        case
            when not placed.is_kept and kept.municipality_code = placed.municipality_code
                then kept.registration_id
        end as own_kept_registration_id,
        case
            when not placed.is_kept and kept.municipality_code = placed.municipality_code
                then placed.deciding_tiebreak
        end as own_deciding_tiebreak
    from placed
    left join kept
        on
            placed.person_id = kept.person_id
            and placed.mapping_year = kept.mapping_year
)

-- stored by municipality: `brukerplan return` reads one municipality at a time and DuckDB skips the rest
select * from final
order by municipality_code, mapping_year
