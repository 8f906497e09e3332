-- Data-quality audit: what became of every delivered row, per municipality as registered, mapping year and
-- submission. raw = landed + rejected; landed = superseded (rule 1) + duplicates removed (rule 3) + persons
-- counted. A rejected row is attributed to its municipality code when that code is in force in the mapping
-- year, otherwise to the file's municipality when the file has a municipality scope, otherwise to 9999
-- (Statistics Norway's code for an unknown municipality). A quarantined file lands nothing; it has one row per
-- municipality in force within its scope (a municipality, every municipality of a county, or all), with its
-- would-be submission id, is_quarantined = true and zero counts. A file whose name gives no year or scope (Q05) is
-- attributable to no municipality and is not in this mart.
{% set reject_rules = ['R01', 'R02', 'R03', 'R04', 'R05', 'R06', 'R07'] %}

with

landed as (
    select
        submission_id,
        mapping_year,
        municipality_code_registered,
        is_current
    from {{ ref('int_current_submission') }}
),

rejects as (
    select
        submission_id,
        mapping_year,
        municipality_code_registered,
        rule_id
    from {{ ref('stg_landing__rejects') }}
),

submissions as (
    select
        submission_id,
        original_name,
        scope,
        scope_type,
        layout,
        delivered_on,
        delivery_seq
    from {{ ref('stg_landing__submissions') }}
),

dropped_duplicates as (
    select
        submission_id,
        mapping_year,
        municipality_code_registered,
        is_cross_municipality
    from {{ ref('dedup_audit') }}
),

persons as (
    select
        submission_id,
        mapping_year,
        municipality_code_registered
    from {{ ref('fct_person_year') }}
),

quarantined as (
    select
        submission_id,
        original_name,
        rule_id,
        mapping_year,
        scope,
        scope_type
    from {{ ref('stg_landing__quarantine') }}
    where mapping_year is not null
),

municipalities_in_force as (
    select
        year as mapping_year,
        municipality_code_registered
    from {{ ref('int_population') }}
),

rejects_attributed as (
    select
        rejects.submission_id,
        rejects.mapping_year,
        rejects.rule_id,
        case
            when municipalities_in_force.municipality_code_registered is not null
                then rejects.municipality_code_registered
            when submissions.scope_type = 'municipality' then substr(submissions.scope, 2)
            else '9999'
        end as municipality_code_registered
    from rejects
    left join municipalities_in_force
        on
            rejects.mapping_year = municipalities_in_force.mapping_year
            and rejects.municipality_code_registered = municipalities_in_force.municipality_code_registered
    left join submissions
        on rejects.submission_id = submissions.submission_id
),

quarantine_attributed as (
    select
        municipalities_in_force.municipality_code_registered,
        quarantined.mapping_year,
        quarantined.submission_id,
        quarantined.original_name,
        quarantined.scope,
        quarantined.rule_id
    from quarantined
    inner join municipalities_in_force
        on
            quarantined.mapping_year = municipalities_in_force.mapping_year
            and (
                quarantined.scope_type = 'national'
                or (
                    quarantined.scope_type = 'county'
                    and left(municipalities_in_force.municipality_code_registered, 2) = substr(quarantined.scope, 2)
                )
                or (
                    quarantined.scope_type = 'municipality'
                    and municipalities_in_force.municipality_code_registered = substr(quarantined.scope, 2)
                )
            )
),

row_outcomes as (
    -- every landed and every rejected row, and among the landed ones every dropped duplicate and every person
    -- counted, by audit key (the duplicates and persons are current landed rows: their keys are landed keys)
    select
        municipality_code_registered,
        mapping_year,
        submission_id,
        'landed' as outcome,
        is_current
    from landed
    union all by name
    select
        municipality_code_registered,
        mapping_year,
        submission_id,
        'rejected' as outcome,
        rule_id
    from rejects_attributed
    union all by name
    select
        municipality_code_registered,
        mapping_year,
        submission_id,
        'duplicate' as outcome,
        is_cross_municipality
    from dropped_duplicates
    union all by name
    select
        municipality_code_registered,
        mapping_year,
        submission_id,
        'person' as outcome
    from persons
),

outcome_counts as (
    select
        municipality_code_registered,
        mapping_year,
        submission_id,
        count(*) filter (where outcome = 'landed') as registrations_landed,
        count(*) filter (where outcome = 'landed' and not is_current) as superseded,
        count(*) filter (where outcome = 'rejected') as rejected,
        {%- for rule_id in reject_rules %}
            count(*) filter (where rule_id = '{{ rule_id }}') as rejected_{{ rule_id | lower }},
        {%- endfor %}
        count(*) filter (where outcome = 'duplicate') as duplicates_removed,
        count(*) filter (where is_cross_municipality) as duplicates_cross_municipality,
        count(*) filter (where outcome = 'person') as persons
    from row_outcomes
    group by all
),

submission_rows as (
    select
        outcome_counts.municipality_code_registered,
        outcome_counts.mapping_year,
        outcome_counts.submission_id,
        submissions.original_name as source_file,
        submissions.scope,
        submissions.layout,
        submissions.delivered_on,
        submissions.delivery_seq,
        false as is_quarantined,
        cast(null as varchar) as quarantine_rule_id,
        outcome_counts.registrations_landed - outcome_counts.superseded > 0 as is_current,
        outcome_counts.registrations_landed + outcome_counts.rejected as registrations_raw,
        outcome_counts.registrations_landed,
        outcome_counts.rejected,
        {%- for rule_id in reject_rules %}
            outcome_counts.rejected_{{ rule_id | lower }},
        {%- endfor %}
        outcome_counts.superseded,
        outcome_counts.duplicates_removed,
        outcome_counts.duplicates_cross_municipality,
        outcome_counts.persons,
        0 as quarantined_files
    from outcome_counts
    left join submissions
        on outcome_counts.submission_id = submissions.submission_id
),

quarantine_rows as (
    select
        municipality_code_registered,
        mapping_year,
        submission_id,
        original_name as source_file,
        scope,
        cast(null as varchar) as layout,
        cast(null as date) as delivered_on,
        cast(null as integer) as delivery_seq,
        true as is_quarantined,
        rule_id as quarantine_rule_id,
        false as is_current,
        0 as registrations_raw,
        0 as registrations_landed,
        0 as rejected,
        {%- for rule_id in reject_rules %}
            0 as rejected_{{ rule_id | lower }},
        {%- endfor %}
        0 as superseded,
        0 as duplicates_removed,
        0 as duplicates_cross_municipality,
        0 as persons,
        1 as quarantined_files
    from quarantine_attributed
)

select * from submission_rows
union all by name
select * from quarantine_rows
