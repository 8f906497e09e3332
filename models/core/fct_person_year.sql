{{ config(**per_year_config()) }}  -- per mapping year (decisions W6)
-- One row per person and mapping year after rules 1-5 (restricted: person-level data).
with persons as (
    select * from {{ ref('int_harmonisation') }}
    where {{ in_build_years() }}
),

final as (
    select
        person_id,
        mapping_year,
        registration_id,
        submission_id,
        municipality_code_registered,
        municipality_code,
        county_code,
        is_approximate,
        target_group,
        user_group,
        sex,
        birth_year,
        age,
        age_band,
        is_adult,
        agency_code,
        mapped_on,
        layout,
        has_children,
        n_children,
        custody,
        pregnant,
        education,
        income_source,
        injects,
        violence_exposed,
        substance_alcohol,
        substance_cannabis,
        substance_heroin,
        substance_other_opioids,
        substance_amphetamines,
        substance_benzodiazepines,
        {{ area_columns() }},
        services_received,
        services_recommended,
        completeness,
        delivered_on,
        delivery_seq,
        source_file,
        source_row
    from persons
)

select * from final
