-- mart_living_conditions: coarser user groups are the sums of their subgroups for every area and colour.
{{ mart_group_additivity(
    ref('mart_living_conditions'),
    keys=['mapping_year', 'area', 'colour'],
    counts=['persons'],
) }}
