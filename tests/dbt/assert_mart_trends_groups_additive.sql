-- mart_trends: rus = rus_only + rop_less_serious + rop_serious + rus_mental_unknown and all = rus + mental
-- (rule 4), for every count of persons.
{{ mart_group_additivity(
    ref('mart_trends'),
    keys=['mapping_year'],
    counts=['persons', 'persons_18plus', 'men', 'persons_approximate'],
) }}
