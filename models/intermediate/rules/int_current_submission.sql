{{ config(**per_year_config()) }}  -- per mapping year (decisions W6)
-- Rule 1 (current submission): for each municipality and mapping year the rows that count are those of the latest
-- delivery covering it - latest delivered_on, then highest delivery_seq, then the narrower scope (K over F over NO).
-- A delivery covers the municipality-years where it has at least one landed row. Every landed row is kept here.
with registrations as (
    select * from {{ ref('stg_landing__registrations') }}
    where {{ in_build_years() }}
),

submissions as (
    select * from {{ ref('stg_landing__submissions') }}
),

deliveries as (
    select distinct
        registrations.submission_id,
        registrations.municipality_code_registered,
        registrations.mapping_year,
        registrations.delivered_on,
        registrations.delivery_seq,
        case submissions.scope_type
            when 'municipality' then 1
            when 'county' then 2
            when 'national' then 3
        end as scope_rank
    from registrations
    left join submissions
        on registrations.submission_id = submissions.submission_id
),

current_deliveries as (
    select
        municipality_code_registered,
        mapping_year,
        submission_id as current_submission_id
    from deliveries
    qualify row_number() over (
        partition by municipality_code_registered, mapping_year
        order by delivered_on desc, delivery_seq desc, scope_rank asc nulls last, submission_id asc
    ) = 1
),

decided as (
    select
        registrations.*,
        submissions.scope,
        submissions.scope_type,
        registrations.submission_id = current_deliveries.current_submission_id as is_current,
        case
            when registrations.submission_id != current_deliveries.current_submission_id
                then current_deliveries.current_submission_id
        end as superseded_by_submission_id
    from registrations
    left join submissions
        on registrations.submission_id = submissions.submission_id
    inner join current_deliveries
        on
            registrations.municipality_code_registered = current_deliveries.municipality_code_registered
            and registrations.mapping_year = current_deliveries.mapping_year
)

select * from decided
