{#- A table, not a view: the landing zone is thousands of small files, and a view would re-read all of them for
    every model and test that selects from it (decisions C10). -#}
{{ config(materialized='table') }}
with registrations as (
    {{ landing_relation('registrations') }}
),

renamed as (
    select
        cast(submission_id as varchar) as submission_id,
        cast(registration_id as varchar) as registration_id,
        cast(person_id as varchar) as person_id,
        cast(mapping_year as integer) as mapping_year,
        cast(municipality_code as varchar) as municipality_code_registered,
        cast(agency_code as varchar) as agency_code,
        cast(mapped_on as date) as mapped_on,
        cast(sex as varchar) as sex,
        cast(birth_year as integer) as birth_year,
        cast(target_group as varchar) as target_group,
        cast(has_children as boolean) as has_children,
        cast(n_children as integer) as n_children,
        cast(custody as varchar) as custody,
        cast(pregnant as boolean) as pregnant,
        cast(education as varchar) as education,
        cast(income_source as varchar) as income_source,
        cast(injects as boolean) as injects,
        cast(substance_alcohol as integer) as substance_alcohol,
        cast(substance_cannabis as integer) as substance_cannabis,
        cast(substance_heroin as integer) as substance_heroin,
        cast(substance_other_opioids as integer) as substance_other_opioids,
        cast(substance_amphetamines as integer) as substance_amphetamines,
        cast(substance_benzodiazepines as integer) as substance_benzodiazepines,
        cast(violence_exposed as boolean) as violence_exposed,
        cast(area_housing as varchar) as area_housing,
        cast(area_activity as varchar) as area_activity,
        cast(area_economy as varchar) as area_economy,
        cast(area_physical_health as varchar) as area_physical_health,
        cast(area_mental_health as varchar) as area_mental_health,
        cast(area_substance_use as varchar) as area_substance_use,
        cast(area_social_functioning as varchar) as area_social_functioning,
        cast(area_network as varchar) as area_network,
        cast(living_index as varchar) as living_index,
        cast(services_received as varchar[]) as services_received,
        cast(services_recommended as varchar[]) as services_recommended,
        cast(source_file as varchar) as source_file,
        cast(source_sheet as varchar) as source_sheet,
        cast(source_row as integer) as source_row,
        cast(layout as varchar) as layout,
        cast(delivered_on as date) as delivered_on,
        cast(delivery_seq as integer) as delivery_seq,
        cast(ingested_at as timestamptz) as ingested_at,
        extra
    from registrations
)

select * from renamed
