-- Q5d rule, checked against advice_hours by brute force: the opening window
-- reaches the coverage target, no shorter window does, and no window of the
-- same length beats it (more amount, or the same amount and an earlier
-- opening). Returns the offending windows, or the chosen one when it falls short.
with

hours as (

    select * from {{ ref('advice_hours') }}

),

opening_window as (

    select * from {{ ref('advice_opening_window') }}

),

window_lengths as (

    select explode(sequence(1, 24)) as hours_open

),

total as (

    select sum(approved_amount) as approved_total from hours

),

candidate_windows as (

    select
        opening.hour as opening_hour,
        window_lengths.hours_open,
        sum(covered.approved_amount) as window_amount

    from hours as opening
    cross join window_lengths
    inner join hours as covered
        on pmod(covered.hour - opening.hour, 24) < window_lengths.hours_open
    group by 1, 2

),

chosen as (

    select
        opening_window.opening_hour,
        opening_window.hours_open,
        opening_window.coverage_target,
        candidate_windows.window_amount,
        total.approved_total

    from opening_window
    inner join candidate_windows
        on
            opening_window.opening_hour = candidate_windows.opening_hour
            and opening_window.hours_open = candidate_windows.hours_open
    cross join total

),

falls_short as (

    select
        'chosen window below target' as failure,
        opening_hour,
        hours_open,
        window_amount

    from chosen
    where window_amount < coverage_target * approved_total

),

beaten as (

    select
        'a better window exists' as failure,
        candidate_windows.opening_hour,
        candidate_windows.hours_open,
        candidate_windows.window_amount

    from candidate_windows
    cross join chosen
    where
        candidate_windows.window_amount >= chosen.coverage_target * chosen.approved_total
        and (
            candidate_windows.hours_open < chosen.hours_open
            or (
                candidate_windows.hours_open = chosen.hours_open
                and (
                    candidate_windows.window_amount > chosen.window_amount
                    or (
                        candidate_windows.window_amount = chosen.window_amount
                        and candidate_windows.opening_hour < chosen.opening_hour
                    )
                )
            )
        )

)

select * from falls_short
union all
select * from beaten
