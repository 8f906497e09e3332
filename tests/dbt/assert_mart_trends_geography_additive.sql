-- mart_trends: every county equals the sum of its municipalities and the country the sum of its counties, for
-- every count and denominator (persons, men, 18+, approximate, population, participating municipalities).
{{ mart_geography_additivity(
    ref('mart_trends'),
    keys=['mapping_year', 'user_group'],
    counts=['persons', 'persons_18plus', 'men', 'persons_approximate', 'population_16plus', 'population_18plus',
        'participating_municipalities'],
) }}
