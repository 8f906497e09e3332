-- mart_services: county = sum of municipalities, country = sum of counties, for every status count.
{{ mart_geography_additivity(
    ref('mart_services'),
    keys=['mapping_year', 'user_group', 'service_code'],
    counts=['persons_status_known', 'persons_status_unknown', 'received', 'recommended', 'status_continue',
        'status_new', 'status_end', 'status_none', 'gap'],
) }}
