-- Rule 4 (additivity of user groups): every finest user group of a person, paired with each group it counts
-- in. A rus_only person counts in rus_only, rus and all; a mental person in mental and all. Marts join their
-- finest-group counts to this table and sum, so coarser groups are always the sum of their subgroups.

with

user_groups as (
    select
        user_group,
        parent_group,
        is_finest
    from {{ ref('stg_codes__user_groups') }}
),

finest_groups as (
    select user_group as finest_group
    from user_groups
    where is_finest
),

memberships as (
    -- the group itself
    select
        finest_group,
        finest_group as user_group,
        0 as levels_up
    from finest_groups

    union all

    -- its parent
    select
        finest.finest_group,
        parent.parent_group as user_group,
        1 as levels_up
    from finest_groups as finest
    inner join user_groups as parent
        on finest.finest_group = parent.user_group
    where parent.parent_group is not null

    union all

    -- its grandparent
    select
        finest.finest_group,
        grandparent.parent_group as user_group,
        2 as levels_up
    from finest_groups as finest
    inner join user_groups as parent
        on finest.finest_group = parent.user_group
    inner join user_groups as grandparent
        on parent.parent_group = grandparent.user_group
    where grandparent.parent_group is not null
)

select
    finest_group,
    user_group,
    levels_up
from memberships
