-- mart_housing: county = sum of municipalities, country = sum of counties, for every count.
{{ mart_geography_additivity(
    ref('mart_housing'),
    keys=['mapping_year', 'user_group'],
    counts=['persons', 'persons_housing_known', 'housing_green', 'housing_yellow', 'housing_red',
        'housing_red_yellow', 'persons_with_children_red_yellow', 'children_red_yellow'],
) }}
