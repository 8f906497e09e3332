{#- Reading the landing zone (docs/contracts.md §1). The landing root is the dbt var `landing`.

    A fresh clone has no landing zone: read_parquet/read_json fail on a glob that matches nothing, so the
    staging models ask first (at execution time) whether any file exists and otherwise select a typed empty
    relation with the same columns. The source() call is made unconditionally for lineage. -#}

{% macro landing_path(relative) -%}
    {{- var('landing') | string | replace('\\', '/') | trim -}}/{{ relative }}
{%- endmacro %}

{% macro landing_has_files(relative) -%}
    {#- True when at least one file under the landing root matches the glob `relative` (only at execution). -#}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set pattern = landing_path(relative) | replace("'", "''") -%}
    {%- set result = run_query("select count(*) as n_files from glob('" ~ pattern ~ "')") -%}
    {{ return(result.columns[0].values()[0] > 0) }}
{%- endmacro %}

{% macro landing_empty_relation(columns) -%}
    {#- A relation with the given (name, type) columns and no rows. -#}
    select
    {%- for column in columns %}
        cast(null as {{ column[1] }}) as {{ column[0] }}{{ ',' if not loop.last }}
    {%- endfor %}
    where false
{%- endmacro %}

{% macro landing_registration_columns() -%}
    {#- Landing columns of `registrations` with their DuckDB types (ingest/brukerplan/spec/landing_schema.yaml). -#}
    {{ return([
        ['registration_id', 'varchar'], ['person_id', 'varchar'], ['mapping_year', 'smallint'],
        ['municipality_code', 'varchar'], ['agency_code', 'varchar'], ['mapped_on', 'date'], ['sex', 'varchar'],
        ['birth_year', 'smallint'], ['target_group', 'varchar'], ['has_children', 'boolean'],
        ['n_children', 'tinyint'], ['custody', 'varchar'], ['pregnant', 'boolean'], ['education', 'varchar'],
        ['income_source', 'varchar'], ['injects', 'boolean'],
        ['substance_alcohol', 'tinyint'], ['substance_cannabis', 'tinyint'], ['substance_heroin', 'tinyint'],
        ['substance_other_opioids', 'tinyint'], ['substance_amphetamines', 'tinyint'],
        ['substance_benzodiazepines', 'tinyint'], ['violence_exposed', 'boolean'],
        ['area_housing', 'varchar'], ['area_activity', 'varchar'], ['area_economy', 'varchar'],
        ['area_physical_health', 'varchar'], ['area_mental_health', 'varchar'], ['area_substance_use', 'varchar'],
        ['area_social_functioning', 'varchar'], ['area_network', 'varchar'], ['living_index', 'varchar'],
        ['services_received', 'varchar[]'], ['services_recommended', 'varchar[]'],
        ['submission_id', 'varchar'], ['source_file', 'varchar'], ['source_sheet', 'varchar'],
        ['source_row', 'integer'], ['layout', 'varchar'], ['delivered_on', 'date'], ['delivery_seq', 'smallint'],
        ['ingested_at', 'timestamptz'], ['extra', 'map(varchar, varchar)'],
    ]) }}
{%- endmacro %}

{% macro landing_reject_columns() -%}
    {{ return([
        ['submission_id', 'varchar'], ['mapping_year', 'smallint'], ['source_file', 'varchar'],
        ['source_sheet', 'varchar'], ['source_row', 'integer'], ['rule_id', 'varchar'], ['column_name', 'varchar'],
        ['value', 'varchar'], ['message', 'varchar'], ['registration_id', 'varchar'], ['person_id', 'varchar'],
        ['municipality_code', 'varchar'], ['layout', 'varchar'], ['delivered_on', 'date'],
        ['delivery_seq', 'smallint'], ['ingested_at', 'timestamptz'], ['raw', 'map(varchar, varchar)'],
    ]) }}
{%- endmacro %}

{% macro landing_submission_columns() -%}
    {#- Keys of submissions/<id>.json as read by read_json (explicit types: stable whatever the files hold). -#}
    {{ return([
        ['submission_id', 'varchar'], ['original_name', 'varchar'], ['sha256', 'varchar'],
        ['size_bytes', 'bigint'], ['layout', 'varchar'], ['format', 'varchar'], ['encoding', 'varchar'],
        ['delimiter', 'varchar'], ['sheet', 'varchar'], ['mapping_year', 'integer'], ['scope', 'varchar'],
        ['scope_type', 'varchar'], ['delivered_on', 'date'], ['delivery_seq', 'integer'],
        ['municipalities_covered', 'varchar[]'], ['rows_read', 'bigint'], ['rows_landed', 'bigint'],
        ['rows_rejected', 'bigint'], ['ingested_at', 'timestamptz'], ['software_version', 'varchar'],
    ]) }}
{%- endmacro %}

{% macro read_json_columns(columns) -%}
    {#- The `columns = {...}` struct literal of read_json for (name, type) pairs. -#}
    {%- for column in columns -%}
        {{ column[0] }}: '{{ column[1] | upper }}'{{ ', ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}
