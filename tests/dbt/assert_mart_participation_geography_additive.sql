-- mart_participation: county = sum of municipalities, country = sum of counties, for every additive count
-- (agencies and submissions are distinct counts and not additive).
{{ mart_geography_additivity(
    ref('mart_participation'),
    keys=['mapping_year'],
    counts=['municipalities_in_force', 'municipalities_participating', 'municipalities_participating_rus',
        'municipalities_participating_mental', 'population_16plus', 'population_16plus_covered',
        'population_16plus_covered_rus', 'population_16plus_covered_mental', 'registrations', 'persons'],
) }}
