{#- A table, not a view: the landing zone is thousands of small files, and a view would re-read all of them for
    every model and test that selects from it (decisions C10). -#}
{{ config(materialized='table') }}
with reports as (
    {{ landing_relation('quarantine') }}
),

parsed as (
    select
        cast(sha256 as varchar) as sha256,
        left(cast(sha256 as varchar), 16) as submission_id,
        cast(original_name as varchar) as original_name,
        cast(rule_id as varchar) as rule_id,
        cast(message as varchar) as message,
        cast(quarantined_at as timestamptz) as quarantined_at,
        -- file name rule of extract-format.md §1: BP<year>_<scope>_<YYYYMMDD>[_<seq>].<xlsx|csv>
        regexp_extract(
            upper(original_name), '^BP([0-9]{4})_(K[0-9]{4}|F[0-9]{2}|NO)_[0-9]{8}(_[0-9]{1,2})?\.(XLSX|CSV)$', 1
        ) as year_text,
        regexp_extract(
            upper(original_name), '^BP([0-9]{4})_(K[0-9]{4}|F[0-9]{2}|NO)_[0-9]{8}(_[0-9]{1,2})?\.(XLSX|CSV)$', 2
        ) as scope_text
    from reports
)

select
    sha256,
    submission_id,
    original_name,
    rule_id,
    message,
    quarantined_at,
    cast(nullif(year_text, '') as integer) as mapping_year,
    nullif(scope_text, '') as scope,
    case left(scope_text, 1)
        when 'K' then 'municipality'
        when 'F' then 'county'
        when 'N' then 'national'
    end as scope_type
from parsed
