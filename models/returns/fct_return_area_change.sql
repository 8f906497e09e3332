-- Return packages, "Brukere over tid": per person a municipality registered in two or more mapping years, the
-- colour of each living-condition area and of the living index each year, and the change since the person's
-- previous mapping by that municipality: better, same, worse, or unknown when either colour is unknown. Colours
-- are ordered green < yellow < red; blue (blålys, the index only) counts as red.
with person_years as (
    select * from {{ ref('fct_return_person_year') }}
    where mappings_by_municipality >= 2
),

areas as (
    select area_code from {{ ref('dim_area') }}
),

colours as (
    select
        * exclude (column_name),
        case when column_name = 'living_index' then column_name else substr(column_name, 6) end as area_code
    from (
        unpivot person_years
        on {{ area_columns() }}
        into name column_name value colour
    )
),

ranked as (
    select
        colours.municipality_code,
        colours.person_id,
        colours.mapping_year,
        colours.area_code,
        colours.colour,
        colours.person_previous_mapping_year,
        case colours.colour
            when 'green' then 1
            when 'yellow' then 2
            when 'red' then 3
            when 'blue' then 3
        end as severity
    from colours
    inner join areas
        on colours.area_code = areas.area_code
),

compared as (
    select
        *,
        lag(colour) over person_area as previous_colour,
        lag(severity) over person_area as previous_severity
    from ranked
    window person_area as (partition by municipality_code, person_id, area_code order by mapping_year)
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

-- stored by municipality: `brukerplan return` reads one municipality at a time and DuckDB skips the rest
select * from final
order by municipality_code, mapping_year
