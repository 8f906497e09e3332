{#- A table, not a view: the landing zone is thousands of small files, and a view would re-read all of them for
    every model and test that selects from it (decisions C10). -#}
{{ config(materialized='table') }}
{{ staged(landing_relation('registrations')) }}
