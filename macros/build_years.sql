{#- Incremental builds by mapping year (docs/decisions.md W6). `brukerplan build` passes the build years (a JSON
    list of mapping years, possibly empty) in the environment variable BRUKERPLAN_BUILD_YEARS (empty otherwise; an
    environment variable rather than a var so that dbt's partial parsing survives, W8) only when it builds into a
    copy of the live warehouse whose tables were built by the same project and settings and read a subset of the
    landing zone's submissions; the years are those of the submissions the live warehouse has not read. The var
    `build_years` (`dbt build --vars`) takes precedence. Without either (a full build, or `dbt build` run directly)
    the per-year models are plain tables, exactly as before.

    A per-year model is one whose rows of a mapping year depend only on inputs of that year (and on code lists and
    reference data). With the var it is an incremental model: its rows of the build years are deleted (pre-hook) and
    selected again (its inputs filtered with `in_build_years()`), the other years stay as the live warehouse had
    them. tests/warehouse/test_incremental_build.py proves the result equals a full build. -#}

{% macro build_years() -%}
    {#- The mapping years of an incremental build (a list of integers), or none for a full build. -#}
    {%- set years = var('build_years', env_var('BRUKERPLAN_BUILD_YEARS', '')) -%}
    {%- if years is none or years is string and years | trim == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if years is string -%}
        {%- set years = fromjson(years) -%}
    {%- endif -%}
    {%- set checked = [] -%}
    {%- for year in years -%}
        {%- do checked.append(year | int) -%}
    {%- endfor -%}
    {{ return(checked) }}
{%- endmacro %}

{% macro per_year_config() -%}
    {#- The config of a per-year table model: a table, or an incremental model when the build has build years. -#}
    {{ return(incremental_config("{{ delete_build_years() }}", {'rebuilt_by': 'mapping_year'})) }}
{%- endmacro %}

{% macro per_year_view_config() -%}
    {#- The config of a view whose rows of a mapping year are computed from the rows of that year of per-year models
        (and from seeds, which an incremental build never changes) alone (decisions W13): with build years it carries
        meta.rebuilt_by like a per-year table, so that its generic tests read the build years' rows only. -#}
    {%- if build_years() is none -%}
        {{ return({'materialized': 'view'}) }}
    {%- endif -%}
    {{ return({'materialized': 'view', 'meta': {'rebuilt_by': 'mapping_year'}}) }}
{%- endmacro %}

{% macro per_group_config(source, keys=['municipality_code', 'person_id'], touched=['mapping_year']) -%}
    {#- The config of a model rebuilt by groups (decisions W11): its rows of a group (a value of `keys`) depend only on
        the group's rows of the model `source` (a name), across mapping years. A table, or with build years an
        incremental model that rebuilds every group with a row whose `touched` columns hold a build year, in its
        old rows or in the new rows of `source` (delete_build_groups() below, then in_rebuilt_groups(), or
        in_build_years() when the group is the mapping year). The returns' "over time" models are rebuilt by
        municipality and person; mart_services by mapping year, the years built and those whose next mapping is
        one of them. -#}
    {%- set hook = "{{ delete_build_groups(ref('" ~ source ~ "'), " ~ (keys | tojson) ~ ", " ~ (touched | tojson)
        ~ ") }}" %}
    {{ return(incremental_config(hook, {'rebuilt_by': 'group', 'group_keys': keys})) }}
{%- endmacro %}

{% macro incremental_config(delete_hook, meta) -%}
    {#- A table, or with build years an incremental model (append) whose pre-hook `delete_hook` deletes the rows to
        be selected again; `meta` says which (rebuilt_by: mapping_year or group, and the group's keys). -#}
    {%- if build_years() is none -%}
        {{ return({'materialized': 'table'}) }}
    {%- endif -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'append',
        'on_schema_change': 'fail',
        'pre_hook': [delete_hook],
        'meta': meta,
    }) }}
{%- endmacro %}

{% macro year_list(years) -%}
    {%- if years | length == 0 -%}
        null
    {%- else -%}
        {{ years | join(', ') }}
    {%- endif -%}
{%- endmacro %}

{% macro delete_build_years() -%}
    {#- Pre-hook: the live rows of the build years go (nothing when the table is being created). is_incremental()
        is asked only with build years: a unit test has no relation to ask about. -#}
    {%- if build_years() is not none and is_incremental() -%}
        delete from {{ this }} where mapping_year in ({{ year_list(build_years()) }})
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro delete_build_groups(source, keys, touched) -%}
    {#- Pre-hook of a model rebuilt by groups (per_group_config): every group with a row whose `touched` columns hold
        a build year, in this model's live rows or in the new rows of `source`, loses all its rows; they are selected
        again (in_rebuilt_groups(), in_build_years()). A group's rows change only when its rows of `source` do, and
        those change only in the build years. -#}
    {%- if build_years() is not none and is_incremental() -%}
        {%- set years = year_list(build_years()) %}
        {%- set where %}{% for column in touched %}{{ column }} in ({{ years }}){{ ' or ' if not loop.last }}{% endfor %}{% endset %}
        delete from {{ this }} as live using (
            select distinct {{ keys | join(', ') }} from {{ this }} where {{ where }}
            union
            select distinct {{ keys | join(', ') }} from {{ source }} where {{ where }}
        ) as rebuilt
        where {% for key in keys %}live.{{ key }} = rebuilt.{{ key }}{{ ' and ' if not loop.last }}{% endfor %}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro in_rebuilt_groups(rows) -%}
    {#- A where condition on `rows` (an alias of the model's source) in a per-group model: true in a full build; in
        an incremental one, only the groups (the keys its per_group_config() gave) the model has no row of after
        delete_build_groups(): those it deleted and groups new in the build years. (Every group of the source with
        rows in the model keeps them all or loses them all, so a group either is rebuilt whole or is left as it
        was.) -#}
    {%- if build_years() is not none and is_incremental() -%}
        {%- set keys = config.get('meta').get('group_keys') %}
        not exists (
            select 1 from {{ this }} as kept
            where {% for key in keys %}kept.{{ key }} = {{ rows }}.{{ key }}{{ ' and ' if not loop.last }}{% endfor %}
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{% macro in_build_years(column='mapping_year') -%}
    {#- A where condition on a mapping year `column`: the years this build computes for the model. Every row in a full
        build and in a model rebuilt in full; the build years in a per-year model; in a model rebuilt by mapping
        year (per_group_config with keys [mapping_year]) the years its pre-hook deleted. -#}
    {%- if build_years() is none or not is_incremental() -%}
        true
    {%- elif config.get('meta', {}).get('rebuilt_by') == 'group' -%}
        {%- if config.get('meta').get('group_keys') != ['mapping_year'] -%}
            {{ exceptions.raise_compiler_error('in_build_years() in a model rebuilt by groups other than years') }}
        {%- endif -%}
        {{ column }} not in (select distinct mapping_year from {{ this }})
    {%- else -%}
        {{ column }} in ({{ year_list(build_years()) }})
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__get_where_subquery(relation) -%}
    {#- dbt's relation for a generic data test (dbt's default, overridden for DuckDB): the test's `where` config as
        dbt applies it, and in an incremental build, for a per-year model, only the build years' rows. The other
        years' rows are those of the trusted live warehouse, whose build passed every test (the build plan requires
        it, W6), and no test compares rows of different mapping years of a per-year model. -#}
    {%- set where = config.get('where', '') -%}
    {%- set per_year = execute and build_years() is not none and is_per_year_model(relation) -%}
    {%- if per_year and not where -%}
        {{ return(build_years_subquery(relation)) }}
    {%- endif -%}
    {%- set conditions = [] -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- if per_year -%}
        {%- do conditions.append('mapping_year in (' ~ year_list(build_years()) ~ ')') -%}
    {%- endif -%}
    {%- if conditions -%}
        {{ return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ') ~ ') dbt_subquery') }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}

{% macro build_years_subquery(relation) -%}
    {#- The build years' rows of a per-year model, as the relation a generic test reads; read back into the model
        by build_years_subquery_model() below, the one place that knows this text. -#}
    {{ return('(select * from ' ~ relation ~ ' where mapping_year in (' ~ year_list(build_years())
        ~ ')) dbt_subquery') }}
{%- endmacro %}

{% macro build_years_subquery_model(text) -%}
    {#- The name of the model whose build-years subquery (build_years_subquery() above) `text` is, or none. -#}
    {%- set found = modules.re.fullmatch(
        '\\(select \\* from "[^"]+"\\."[^"]+"\\."([^"]+)" where mapping_year in \\((?:null|[0-9, ]+)\\)\\) dbt_subquery',
        text
    ) -%}
    {{ return(found.group(1) if found else none) }}
{%- endmacro %}

{% macro project_node(name, kinds=['model', 'seed']) -%}
    {#- The graph node of this project named `name`, of the first of `kinds` that has one, or none. -#}
    {%- for kind in kinds -%}
        {%- set node = graph.nodes.get(kind ~ '.' ~ project_name ~ '.' ~ name) -%}
        {%- if node is not none -%}
            {{ return(node) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}

{% macro is_per_year_model(relation) -%}
    {#- True when `relation` is a model of this project built by mapping year in this build (per_year_config() or
        per_year_view_config() with build years: only then does its config carry meta.rebuilt_by). A per-group model
        (per_group_config()) is not: its rebuilt groups keep rows of other years. -#}
    {%- set node = project_node(relation.identifier, ['model']) -%}
    {{ return(
        node is not none and node.schema == relation.schema and node.config.meta.get('rebuilt_by') == 'mapping_year'
    ) }}
{%- endmacro %}
