{{ config(**per_group_config('fct_return_registration')) }}  -- by municipality and person (decisions W11)
-- Return packages: one registration per person, mapping year and municipality of the target structure that
-- registered the person: the one that counted when the municipality's registration counted, otherwise the one
-- de-duplication would have preferred among the municipality's own (rule 3's order). The person's previous and
-- next mapping by the same municipality are the years it registered the person before and after.
with registrations as (
    select * from {{ ref('fct_return_registration') }} as registrations  -- noqa: AL05
    where {{ in_rebuilt_groups('registrations') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by municipality_code, person_id, mapping_year
            order by is_kept desc, {{ deduplication_order() }}
        ) as rank_in_municipality
    from registrations
),

chosen as (
    select * exclude (rank_in_municipality)
    from ranked
    where rank_in_municipality = 1
),

final as (
    select
        municipality_code,
        person_id,
        mapping_year,
        submission_id,
        registration_id,
        layout,
        {{ area_columns() }},
        services_received,
        services_recommended,
        lag(mapping_year) over person_in_municipality as person_previous_mapping_year,
        lead(mapping_year) over person_in_municipality as person_next_mapping_year,
        count(*) over (partition by municipality_code, person_id) as mappings_by_municipality
    from chosen
    window person_in_municipality as (partition by municipality_code, person_id order by mapping_year)
)

-- stored by municipality (decisions W12): `brukerplan return` reads one municipality at a time and DuckDB skips the
-- rest; the two models built from it come out in nearly the same order without a sort of their own
select * from final
order by municipality_code, mapping_year
