{{ config(**per_group_config('fct_return_person_year')) }}  -- by municipality and person (decisions W11)
-- Return packages, "Brukere over tid": per person a municipality registered in two or more mapping years, the
-- colour of each living-condition area and of the living index each year, and the change since the person's
-- previous mapping by that municipality: better, same, worse, or unknown when either colour is unknown. Colours
-- are ordered green < yellow < red; blue (blålys, the index only) counts as red.
with person_years as (
    select * from {{ ref('fct_return_person_year') }} as person_years  -- noqa: AL05
    where mappings_by_municipality >= 2 and {{ in_rebuilt_groups('person_years') }}
),

areas as (
    select area_code from {{ ref('dim_area') }}
),

{%- set area_names = area_columns().split(',') | map('trim') | list %}

with_previous as (
    -- each person-year beside the same person's previous mapping by the same municipality (one row a person, not
    -- an area: the areas are unpivoted in pairs below)
    select
        {%- for column in area_names %}
            person_years.{{ column }},
            previous_year.{{ column }} as previous_{{ column }},
        {%- endfor %}
        person_years.municipality_code,
        person_years.person_id,
        person_years.mapping_year,
        person_years.person_previous_mapping_year
    from person_years
    left join person_years as previous_year
        on
            person_years.municipality_code = previous_year.municipality_code
            and person_years.person_id = previous_year.person_id
            and person_years.person_previous_mapping_year = previous_year.mapping_year
),

colours as (
    select
        * exclude (column_name),
        case when column_name = 'living_index' then column_name else substr(column_name, 6) end as area_code
    from with_previous
    unpivot include nulls (
        (colour, previous_colour) for column_name in (
            {%- for column in area_names %}
                ({{ column }}, previous_{{ column }}) as {{ column }}{{ ',' if not loop.last }}
            {%- endfor %}
        )
    )
    where colour is not null  -- as a plain unpivot drops a blank colour (include nulls keeps a first mapping)
),

compared as (
    select
        colours.municipality_code,
        colours.person_id,
        colours.mapping_year,
        colours.area_code,
        colours.colour,
        colours.person_previous_mapping_year,
        colours.previous_colour,
        {{ colour_severity('colours.colour') }} as severity,
        {{ colour_severity('colours.previous_colour') }} as previous_severity
    from colours
    inner join areas
        on colours.area_code = areas.area_code
),

final as (
    select
        municipality_code,
        person_id,
        mapping_year,
        area_code,
        colour,
        person_previous_mapping_year,
        previous_colour,
        case
            when person_previous_mapping_year is null then null
            when severity is null or previous_severity is null then 'unknown'
            when severity < previous_severity then 'better'
            when severity = previous_severity then 'same'
            else 'worse'
        end as change
    from compared
)

-- not sorted (decisions W12): built from fct_return_person_year, which is stored by municipality, the rows come out
-- nearly in its order, so `brukerplan return` reading one municipality still skips most of the table
select * from final
