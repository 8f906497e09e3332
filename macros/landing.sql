{#- Reading the landing zone. Every table of the landing contract (models/staging/landing/_landing__sources.yml:
    where its files lie, how they are read, its columns and types) is read by one macro, landing_relation.

    A fresh clone has no landing zone: read_parquet/read_json fail on a glob that matches nothing, so the macro
    asks first (at execution time) whether any file exists and otherwise selects a typed empty relation with the
    same columns. Registrations and rejects are read only for submissions whose record exists (partial
    submissions are never read). The source() call is made unconditionally, for lineage. -#}

{% macro landing_root() -%}
    {#- The landing zone's root: the var `landing` (`dbt build --vars`) or the environment variable
        BRUKERPLAN_LANDING, read here rather than in dbt_project.yml so that a new landing zone re-parses only the
        files that read it (a variable of dbt_project.yml makes dbt parse the whole project again, decisions W14). -#}
    {{- return(var('landing', env_var('BRUKERPLAN_LANDING', 'data/landing')) | string | replace('\\', '/') | trim) -}}
{%- endmacro %}

{% macro landing_path(relative) -%}
    {{- landing_root() -}}/{{ relative }}
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

{% macro landing_table(table_name) -%}
    {#- The contract of one landing table: {'glob', 'format', 'columns': [(name, data_type)]} from the sources YAML. -#}
    {%- set node = graph.sources['source.' ~ project_name ~ '.landing.' ~ table_name] -%}
    {%- set columns = [] -%}
    {%- for column in node.columns.values() -%}
        {%- do columns.append([column.name, column.data_type]) -%}
    {%- endfor -%}
    {{ return({'glob': node.meta.landing_glob, 'format': node.meta.landing_format, 'columns': columns}) }}
{%- endmacro %}

{% macro landing_read(contract) -%}
    {#- read_parquet / read_json of one landing table, with the contract's column types for JSON. -#}
    {%- if contract['glob'] is string -%}
        {%- set path = "'" ~ (landing_path(contract['glob']) | replace("'", "''")) ~ "'" -%}
    {%- else -%}
        {%- set paths = [] -%}
        {%- for glob in contract['glob'] -%}
            {%- do paths.append("'" ~ (landing_path(glob) | replace("'", "''")) ~ "'") -%}
        {%- endfor -%}
        {%- set path = '[' ~ paths | join(', ') ~ ']' -%}
    {%- endif -%}
    {%- if contract['format'] == 'parquet' -%}
        read_parquet({{ path }}, hive_partitioning = false, union_by_name = true)
    {%- else -%}
        read_json({{ path }}, format = 'auto', columns = {
        {%- for column in contract['columns'] -%}
            {{ column[0] }}: '{{ column[1] | upper }}'{{ ', ' if not loop.last }}
        {%- endfor -%}
        })
    {%- endif -%}
{%- endmacro %}

{% macro landing_glob_of_years(contract, years) -%}
    {#- The contract's glob narrowed to the partitions of `years` (a list of globs, those that match files). -#}
    {%- if 'year=*' not in contract['glob'] -%}
        {{ exceptions.raise_compiler_error(
            "the landing glob " ~ contract['glob'] ~ " has no year=* partition to read by mapping year") }}
    {%- endif -%}
    {%- set globs = [] -%}
    {%- for year in years -%}
        {%- set glob = contract['glob'] | replace('year=*', 'year=' ~ year) -%}
        {%- if landing_has_files(glob) -%}
            {%- do globs.append(glob) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(globs) }}
{%- endmacro %}

{% macro landing_relation(table_name, years=none) -%}
    {#- select * from one landing table (typed and empty when no file exists yet); with `years` (a list of mapping
        years) only the files of those years' partitions are read. -#}
    {%- set lineage = source('landing', table_name) -%}
    {%- set records_lineage = source('landing', 'submissions') if table_name in ['registrations', 'rejects'] -%}
    {%- if execute -%}
        {%- set contract = landing_table(table_name) -%}
        {%- if years is not none -%}
            {%- set contract = dict(contract, glob=landing_glob_of_years(contract, years)) -%}
        {%- endif -%}
        {%- set records = landing_table('submissions') -%}
        {%- set by_record = table_name in ['registrations', 'rejects'] -%}
        {%- set has_files = contract['glob'] | length > 0 if years is not none
            else landing_has_files(contract['glob']) -%}
        {%- set visible = has_files and (not by_record or landing_has_files(records['glob'])) -%}
    {%- endif -%}
    {%- if execute and visible -%}
        select * from {{ landing_read(contract) }}
        {%- if by_record %}
        where submission_id in (select submission_id from {{ landing_read(records) }})
        {%- endif %}
    {%- elif execute -%}
        select
        {%- for column in contract['columns'] %}
            cast(null as {{ column[1] }}) as {{ column[0] }}{{ ',' if not loop.last }}
        {%- endfor %}
        where false
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
