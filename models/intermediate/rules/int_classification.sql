-- Rule 4 (classification): one row per person and mapping year (the kept registration of rule 3) with the finest
-- user group. Target group mental (psykisk helse, from 2015) is `mental`. Target group rus splits by the
-- mental-health area: green = rus_only, unknown = rus_mental_unknown, yellow or red = ROP (rus og psykisk lidelse).
-- Serious ROP follows the national guideline strictly: substance red with mental red or yellow, or substance yellow
-- with mental red; every other ROP person is rop_less_serious.
{{ config(materialized='view') }}  -- a cheap step over a table: not copied (decisions C10)

with persons as (
    select * from {{ ref('int_deduplication') }}
    where is_kept
),

classified as (
    select
        *,
        case
            when target_group = 'mental' then 'mental'
            when target_group != 'rus' then null
            when area_mental_health = 'green' then 'rus_only'
            when area_mental_health = 'unknown' then 'rus_mental_unknown'
            when
                (area_substance_use = 'red' and area_mental_health in ('red', 'yellow'))
                or (area_substance_use = 'yellow' and area_mental_health = 'red')
                then 'rop_serious'
            when area_mental_health in ('red', 'yellow') then 'rop_less_serious'
        end as user_group
    from persons
)

select * from classified
