{#- The build record: the one source of truth for "was this warehouse built green?" (docs/decisions.md W2).

    Every dbt invocation that runs nodes (build, run, test, seed, however it was started: `brukerplan build` or
    `dbt build` from the project root) writes one row into meta.build_record of the warehouse it works on:
    on-run-start inserts it with status 'running'; on-run-end sets ended_at, the status ('green' when every node
    ended success, pass, warn or no-op, else 'not green'), the node counts by status, the failing nodes and the
    submissions that staging holds. A run that dies in between leaves 'running': publish refuses it
    (src/brukerplan/publish/gate.py reads the newest row through brukerplan.warehouse.record). -#}

{% macro build_record_green_statuses() -%}
    {{ return(['success', 'pass', 'warn', 'no-op']) }}
{%- endmacro %}

{% macro build_record_start() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set selected = invocation_args_dict.get('select') or [] -%}
    {%- set excluded = invocation_args_dict.get('exclude') or [] -%}
    {%- set selection = (['--select'] + selected | list if selected else [])
        + (['--exclude'] + excluded | list if excluded else []) -%}
    create schema if not exists meta;
    create table if not exists meta.build_record (
        invocation_id varchar not null,
        command varchar not null,
        selection varchar,
        started_at timestamptz not null,
        ended_at timestamptz,
        status varchar not null,
        nodes integer,
        node_counts map(varchar, integer),
        failing_nodes struct(node varchar, status varchar, message varchar)[],
        submission_ids varchar[],
        landing varchar,
        dbt_version varchar not null
    );
    insert into meta.build_record (invocation_id, command, selection, started_at, status, landing, dbt_version)
    values (
        {{ build_record_text(invocation_id) }},
        {{ build_record_text(flags.WHICH) }},
        {{ build_record_text(selection | join(' ')) if selection else 'null' }},
        current_timestamp,
        'running',
        {{ build_record_text(landing_root()) }},
        {{ build_record_text(dbt_version) }}
    )
{%- endmacro %}

{% macro build_record_end(results) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set green = build_record_green_statuses() -%}
    {%- set counts = {} -%}
    {%- set failing = [] -%}
    {%- for result in results -%}
        {%- set status = result.status | string | lower -%}
        {%- do counts.update({status: counts.get(status, 0) + 1}) -%}
        {%- if status not in green -%}
            {%- do failing.append(
                "{'node': " ~ build_record_text(result.node.unique_id) ~ ", 'status': " ~ build_record_text(status)
                ~ ", 'message': " ~ build_record_text((result.message or '') | string | truncate(500, true)) ~ "}"
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set is_green = results | length > 0 and failing | length == 0 -%}
    {%- set submissions = graph.nodes.get('model.' ~ project_name ~ '.stg_landing__submissions') -%}
    {%- set relation = adapter.get_relation(submissions.database, submissions.schema, submissions.alias)
        if submissions else none -%}
    update meta.build_record set
        ended_at = current_timestamp,
        status = '{{ "green" if is_green else "not green" }}',
        nodes = {{ results | length }},
        node_counts = map {
        {%- for status, n in counts | dictsort -%}
            {{ build_record_text(status) }}: {{ n }}{{ ', ' if not loop.last }}
        {%- endfor -%}
        }::map(varchar, integer),
        failing_nodes = [{{ failing | join(', ') }}]::struct(node varchar, status varchar, message varchar)[],
        submission_ids = {% if relation -%}
            (select coalesce(list(submission_id order by submission_id), []) from {{ relation }})
        {%- else -%}
            null
        {%- endif %}
    where invocation_id = {{ build_record_text(invocation_id) }}
{%- endmacro %}

{% macro build_record_text(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}
