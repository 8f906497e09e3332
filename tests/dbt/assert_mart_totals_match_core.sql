-- National totals are identical as registered and harmonised (rule 5): the country row of mart_trends for `all`
-- equals the person-years of fct_person_year, mart_participation agrees with mart_trends, and mart_data_quality
-- accounts for every landed and rejected row and every person.
with

core_persons as (
    select
        mapping_year,
        count(*) as persons
    from {{ ref('fct_person_year') }}
    group by mapping_year
),

trends_national as (
    select
        mapping_year,
        persons,
        population_16plus
    from {{ ref('mart_trends') }}
    where geo_level = 'country' and user_group = 'all'
),

participation_national as (
    select
        mapping_year,
        persons,
        population_16plus_covered
    from {{ ref('mart_participation') }}
    where geo_level = 'country' and is_participating
),

quality as (
    select
        mapping_year,
        sum(persons) as persons,
        sum(registrations_landed) as registrations_landed,
        sum(rejected) as rejected
    from {{ ref('mart_data_quality') }}
    group by mapping_year
),

landed as (
    select
        mapping_year,
        count(*) as registrations_landed
    from {{ ref('int_current_submission') }}
    group by mapping_year
),

rejects as (
    select
        mapping_year,
        count(*) as rejected
    from {{ ref('stg_landing__rejects') }}
    group by mapping_year
),

years as (
    select mapping_year from core_persons
    union
    select mapping_year from trends_national
    union
    select mapping_year from participation_national
    union
    select mapping_year from quality
    union
    select mapping_year from rejects
)

select
    years.mapping_year,
    core_persons.persons as core_persons,
    trends_national.persons as trends_persons,
    participation_national.persons as participation_persons,
    quality.persons as quality_persons,
    quality.registrations_landed as quality_landed,
    landed.registrations_landed,
    quality.rejected as quality_rejected,
    rejects.rejected
from years
left join core_persons on years.mapping_year = core_persons.mapping_year
left join trends_national on years.mapping_year = trends_national.mapping_year
left join participation_national on years.mapping_year = participation_national.mapping_year
left join quality on years.mapping_year = quality.mapping_year
left join landed on years.mapping_year = landed.mapping_year
left join rejects on years.mapping_year = rejects.mapping_year
where
    trends_national.persons is distinct from core_persons.persons
    or participation_national.persons is distinct from core_persons.persons
    or participation_national.population_16plus_covered is distinct from trends_national.population_16plus
    or coalesce(quality.persons, 0) is distinct from coalesce(core_persons.persons, 0)
    or coalesce(quality.registrations_landed, 0) is distinct from coalesce(landed.registrations_landed, 0)
    or coalesce(quality.rejected, 0) is distinct from coalesce(rejects.rejected, 0)
