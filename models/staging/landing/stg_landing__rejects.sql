{#- A table, not a view: the landing zone is thousands of small files, and a view would re-read all of them for
    every model and test that selects from it (decisions C10). -#}
{{ config(materialized='table') }}
with rejects as (
    {{ landing_relation('rejects') }}
),

renamed as (
    select
        cast(submission_id as varchar) as submission_id,
        cast(source_row as integer) as source_row,
        cast(mapping_year as integer) as mapping_year,
        cast(source_file as varchar) as source_file,
        cast(source_sheet as varchar) as source_sheet,
        cast(rule_id as varchar) as rule_id,
        cast(column_name as varchar) as column_name,
        cast(value as varchar) as raw_value,
        cast(message as varchar) as message,
        cast(registration_id as varchar) as registration_id,
        cast(person_id as varchar) as person_id,
        cast(municipality_code as varchar) as municipality_code_registered,
        cast(layout as varchar) as layout,
        cast(delivered_on as date) as delivered_on,
        cast(delivery_seq as integer) as delivery_seq,
        cast(ingested_at as timestamptz) as ingested_at,
        raw as raw_cells
    from rejects
)

select * from renamed
