-- Rule 1: for every municipality and mapping year exactly one submission is current, and every superseded row
-- points at it.
with registrations as (
    select * from {{ ref('int_current_submission') }}
),

current_submissions as (
    select
        municipality_code_registered,
        mapping_year,
        count(distinct case when is_current then submission_id end) as current_submissions,
        count(distinct superseded_by_submission_id) as superseding_submissions,
        max(case when is_current then submission_id end) as current_submission_id,
        max(superseded_by_submission_id) as superseded_by_submission_id
    from registrations
    group by all
)

select * from current_submissions
where
    current_submissions != 1
    or superseding_submissions > 1
    or (superseding_submissions = 1 and superseded_by_submission_id != current_submission_id)
