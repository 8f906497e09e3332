{{ config(**per_year_config()) }}  -- per mapping year (decisions W6)
-- Rule 3 (de-duplication): a person counts once per mapping year nationally. Among the current registrations of a
-- person and year keep one by, in order: (a) most complete (known values among the eight areas, the living index
-- and the two service sets), (b) latest mapped_on, (c) agency priority (lowest agency_code), (d) earliest delivery
-- (delivered_on, delivery_seq), then lowest registration_id (as text), then lowest submission_id.
-- Every registration stays here with the kept one's ids; deciding_tiebreak is the first criterion on which a dropped
-- registration differs from the kept one.
with registrations as (
    select * from {{ ref('int_age') }}
    where {{ in_build_years() }}
),

agencies as (
    select * from {{ ref('stg_codes__agencies') }}
),

scored as (
    select
        registrations.*,
        coalesce(agencies.dedup_priority, 999) as agency_priority,
        coalesce(registrations.area_housing != 'unknown', false)::integer
        + coalesce(registrations.area_activity != 'unknown', false)::integer
        + coalesce(registrations.area_economy != 'unknown', false)::integer
        + coalesce(registrations.area_physical_health != 'unknown', false)::integer
        + coalesce(registrations.area_mental_health != 'unknown', false)::integer
        + coalesce(registrations.area_substance_use != 'unknown', false)::integer
        + coalesce(registrations.area_social_functioning != 'unknown', false)::integer
        + coalesce(registrations.area_network != 'unknown', false)::integer
        + coalesce(registrations.living_index != 'unknown', false)::integer
        + (registrations.services_received is not null)::integer
        + (registrations.services_recommended is not null)::integer as completeness
    from registrations
    left join agencies
        on registrations.agency_code = agencies.agency_code
),

ranked as (
    select
        *,
        row_number() over person_year = 1 as is_kept,
        first_value(submission_id) over person_year as kept_submission_id,
        first_value(registration_id) over person_year as kept_registration_id,
        first_value(municipality_code_registered) over person_year as kept_municipality_code_registered,
        first_value(completeness) over person_year as kept_completeness,
        first_value(mapped_on) over person_year as kept_mapped_on,
        first_value(agency_priority) over person_year as kept_agency_priority
    from scored
    window person_year as (
        partition by person_id, mapping_year
        order by {{ deduplication_order() }}
        rows between unbounded preceding and unbounded following
    )
),

decided as (
    select
        * exclude (kept_completeness, kept_mapped_on, kept_agency_priority),
        case
            when is_kept then null
            when completeness != kept_completeness then 'completeness'
            when mapped_on != kept_mapped_on then 'date'
            when agency_priority != kept_agency_priority then 'agency'
            else 'delivery_or_id'
        end as deciding_tiebreak,
        not is_kept and municipality_code_registered != kept_municipality_code_registered as is_cross_municipality
    from ranked
)

select * from decided
