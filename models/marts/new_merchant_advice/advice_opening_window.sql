-- Q5d (window). The opening hours: the smallest contiguous window of whole
-- hours, on the 24-hour circle (it may cross midnight), that holds at least
-- the coverage target (var opening_coverage_target) of the approved amount.
-- Ties: higher coverage, then the earlier opening hour. One row.
with

hours as (

    select * from {{ ref('advice_hours') }}

),

clock as (

    select explode(sequence(0, 23)) as hour

),

window_lengths as (

    select explode(sequence(1, 24)) as hours_open

),

total as (

    select coalesce(sum(approved_amount), 0) as approved_total from hours

),

-- Every (opening hour, length) pair: 24 x 24 windows, summed exactly.
windows as (

    select
        opening.hour as opening_hour,
        window_lengths.hours_open,
        coalesce(sum(hours.approved_amount), 0) as window_amount

    from clock as opening
    cross join window_lengths
    left join hours
        on pmod(hours.hour - opening.hour, 24) < window_lengths.hours_open
    group by 1, 2

),

reaching_target as (

    select
        windows.*,
        total.approved_total

    from windows
    cross join total
    -- Exact decimal comparison: no rounding decides the window.
    where windows.window_amount >= {{ var('opening_coverage_target') }} * total.approved_total

),

ranked as (

    select
        *,
        row_number() over (
            order by hours_open asc, window_amount desc, opening_hour asc
        ) as window_rank

    from reaching_target

),

final as (

    select
        opening_hour,
        -- Exclusive: 22 means closing at 22:00; smaller than opening_hour when
        -- the window crosses midnight; equal to it when open all 24 hours.
        pmod(opening_hour + hours_open, 24) as closing_hour,
        hours_open,
        -- Exact decimal division, half-up to 6 dp; null when nothing was approved.
        cast(window_amount as decimal(38, 2))
        / cast(nullif(approved_total, 0) as decimal(38, 2)) as coverage,
        cast({{ var('opening_coverage_target') }} as decimal(7, 6)) as coverage_target,
        cast(window_amount as decimal(28, 2)) as window_amount,
        cast(approved_total as decimal(28, 2)) as approved_total

    from ranked
    where window_rank = 1

)

select * from final
