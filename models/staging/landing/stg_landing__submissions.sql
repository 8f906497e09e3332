{#- A table, not a view: the landing zone is thousands of small files, and a view would re-read all of them for
    every model and test that selects from it (decisions C10). -#}
{{ config(materialized='table') }}
with records as (
    {{ landing_relation('submissions') }}
),

renamed as (
    select
        cast(submission_id as varchar) as submission_id,
        cast(original_name as varchar) as original_name,
        cast(sha256 as varchar) as sha256,
        cast(size_bytes as bigint) as size_bytes,
        cast(layout as varchar) as layout,
        cast(format as varchar) as file_format,
        cast(encoding as varchar) as file_encoding,
        cast(delimiter as varchar) as csv_delimiter,
        cast(sheet as varchar) as source_sheet,
        cast(mapping_year as integer) as mapping_year,
        upper(cast(scope as varchar)) as scope,
        cast(scope_type as varchar) as scope_type,
        cast(delivered_on as date) as delivered_on,
        cast(delivery_seq as integer) as delivery_seq,
        cast(municipalities_covered as varchar[]) as municipalities_covered,
        cast(rows_read as bigint) as rows_read,
        cast(rows_landed as bigint) as rows_landed,
        cast(rows_rejected as bigint) as rows_rejected,
        cast(ingested_at as timestamptz) as ingested_at,
        cast(software_version as varchar) as software_version
    from records
)

select * from renamed
