-- Rule 2 (age): age = mapping_year - birth_year, the age reached in the mapping year (BrukerPlan maps from the year
-- one turns 16). Only current registrations (rule 1) continue from here.
{{ config(materialized='view') }}  -- a cheap step over a table: not copied (decisions C10)

with current_registrations as (
    select * from {{ ref('int_current_submission') }}
    where is_current
),

aged as (
    select
        *,
        mapping_year - birth_year as age
    from current_registrations
),

banded as (
    select
        *,
        case
            when age between 16 and 17 then '16-17'
            when age between 18 and 23 then '18-23'
            when age between 24 and 39 then '24-39'
            when age between 40 and 59 then '40-59'
            when age >= 60 then '60+'
        end as age_band,
        age >= 18 as is_adult
    from aged
)

select * from banded
