-- mart_services: coarser user groups are the sums of their subgroups for every service and status.
{{ mart_group_additivity(
    ref('mart_services'),
    keys=['mapping_year', 'service_code'],
    counts=['received', 'recommended', 'status_continue', 'status_new', 'status_end', 'status_none'],
) }}
