-- Rule 5 (harmonisation): the municipality as registered (in force on 1 January of the mapping year) mapped to the
-- target structure (dbt var target_structure, default 2024). A code that went wholly into one successor maps
-- exactly; a split code maps to the successor with the largest weight and is flagged approximate. One row per
-- person and mapping year, so national totals are identical as registered and harmonised.
{{ config(materialized='view') }}  -- a cheap step over a table: not copied (decisions C10)

with persons as (
    select * from {{ ref('int_classification') }}
),

harmonised as (
    {{ harmonised('persons') }}
)

select * from harmonised
