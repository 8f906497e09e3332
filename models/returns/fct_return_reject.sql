-- Return packages, "Avviste rader": the rows of a municipality rejected by rules R01-R07 (by the municipality code
-- read from the row, harmonised to the target structure) and the files quarantined by Q01-Q09 whose name gives
-- the municipality (scope K<code>): what to correct before resubmitting. A rejected row without a readable
-- municipality code, or a county or national file, belongs to no single municipality (see mart_data_quality).
with rejects as (
    select * from {{ ref('stg_landing__rejects') }}
),

quarantine as (
    select * from {{ ref('stg_landing__quarantine') }}
),

target_map as (
    {{ target_municipality_map() }}
),

rejected_rows as (
    select
        target_map.municipality_code,
        rejects.mapping_year,
        rejects.submission_id,
        concat_ws('/', rejects.source_sheet, rejects.source_row, rejects.rule_id, rejects.column_name) as reject_key,
        'row' as kind,
        rejects.source_file,
        rejects.source_sheet,
        rejects.source_row,
        rejects.column_name,
        rejects.raw_value as value,
        rejects.rule_id,
        rejects.message,
        rejects.delivered_on
    from rejects
    inner join target_map
        on rejects.municipality_code_registered = target_map.municipality_code_registered
),

quarantined_files as (
    select
        target_map.municipality_code,
        quarantine.mapping_year,
        quarantine.submission_id,
        quarantine.rule_id as reject_key,
        'file' as kind,
        quarantine.original_name as source_file,
        null as source_sheet,
        null as source_row,
        null as column_name,
        null as value,
        quarantine.rule_id,
        quarantine.message,
        null as delivered_on
    from quarantine
    inner join target_map
        on
            quarantine.scope_type = 'municipality'
            and substr(quarantine.scope, 2) = target_map.municipality_code_registered
),

final as (
    select * from rejected_rows
    union all by name
    select * from quarantined_files
)

-- stored by municipality: `brukerplan return` reads one municipality at a time and DuckDB skips the rest
select * from final
order by municipality_code, mapping_year
