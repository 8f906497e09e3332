-- Rule 3 never adds rows: per mapping year, persons counted = distinct persons among the current registrations,
-- and kept + dropped (audit) = current registrations.
with current_registrations as (
    select * from {{ ref('int_age') }}
),

persons as (
    select * from {{ ref('fct_person_year') }}
),

audit as (
    select * from {{ ref('dedup_audit') }}
),

current_per_year as (
    select
        mapping_year,
        count(*) as registrations,
        count(distinct person_id) as distinct_persons
    from current_registrations
    group by mapping_year
),

persons_per_year as (
    select
        mapping_year,
        count(*) as persons
    from persons
    group by mapping_year
),

dropped_per_year as (
    select
        mapping_year,
        count(*) as dropped
    from audit
    group by mapping_year
),

compared as (
    select
        current_per_year.mapping_year,
        current_per_year.registrations,
        current_per_year.distinct_persons,
        coalesce(persons_per_year.persons, 0) as persons,
        coalesce(dropped_per_year.dropped, 0) as dropped
    from current_per_year
    left join persons_per_year on current_per_year.mapping_year = persons_per_year.mapping_year
    left join dropped_per_year on current_per_year.mapping_year = dropped_per_year.mapping_year
)

select * from compared
where
    persons != distinct_persons
    or persons > registrations
    or persons + dropped != registrations
