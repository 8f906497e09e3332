{{ config(**per_year_config()) }}  -- per mapping year (decisions W6, W9)
-- Housing: persons in red (homeless) and yellow (not permanent or not satisfactory) housing, per participating
-- geography, mapping year and user group, with the persons with children under 18 among them and the number of
-- those children.

with

rolled_up as (
    {% call rollup_to_participating(ref('fct_person_year')) %}
        count(*) as persons,
        count(*) filter (where area_housing in ('green', 'yellow', 'red')) as persons_housing_known,
        count(*) filter (where area_housing = 'green') as housing_green,
        count(*) filter (where area_housing = 'yellow') as housing_yellow,
        count(*) filter (where area_housing = 'red') as housing_red,
        count(*) filter (where area_housing in ('red', 'yellow') and has_children) as persons_with_children_red_yellow,
        coalesce(sum(n_children) filter (where area_housing in ('red', 'yellow') and has_children), 0)
            as children_red_yellow,
        count(*) filter (
            where area_housing in ('red', 'yellow') and has_children and n_children is null
        ) as persons_with_children_red_yellow_number_unknown
    {% endcall %}
)

select
    {{ cell_columns() }},
    persons,
    persons_housing_known,
    housing_green,
    housing_yellow,
    housing_red,
    housing_red + housing_yellow as housing_red_yellow,
    housing_red / nullif(persons_housing_known, 0) as share_red,
    housing_yellow / nullif(persons_housing_known, 0) as share_yellow,
    (housing_red + housing_yellow) / nullif(persons_housing_known, 0) as share_red_yellow,
    persons_with_children_red_yellow,
    children_red_yellow,
    persons_with_children_red_yellow_number_unknown
from rolled_up
