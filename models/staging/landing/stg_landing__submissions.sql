{#- A table, not a view: the landing zone is thousands of small files, and a view would re-read all of them for
    every model and test that selects from it (decisions C10). -#}
{{ config(materialized='table') }}
with renamed as (
    {{ staged(landing_relation('submissions')) }}
)

-- the scope always upper case (K0301, F46, NO), whatever the record says
select * replace (upper(scope) as scope) from renamed
