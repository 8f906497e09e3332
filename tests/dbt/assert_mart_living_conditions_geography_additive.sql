-- mart_living_conditions: county = sum of municipalities, country = sum of counties, for every area and colour.
{{ mart_geography_additivity(
    ref('mart_living_conditions'),
    keys=['mapping_year', 'user_group', 'area', 'colour'],
    counts=['persons'],
) }}
