{#
    The quarantine at a glance: rows of qa_rejected_rows per input, file and
    reason, what the reason means (seed rejection_reasons), the share of the
    file's input rows it represents (from qa_row_ledger) and one sample raw
    record to look at. Narrow it to one reason with the var `reason_code`
    (default: every reason), then run the SQL that dbt writes to
    target/compiled/billups_analytics/analyses/:

        dbt compile --select rejected_rows_by_reason --vars '{reason_code: invalid_purchase_date}'
#}
{%- set reason_code = var('reason_code', none) -%}

with

rejected_rows as (

    select * from {{ ref('qa_rejected_rows') }}

),

rejection_reasons as (

    select * from {{ ref('rejection_reasons') }}

),

row_ledger as (

    select * from {{ ref('qa_row_ledger') }}

),

input_rows_per_file as (

    select
        source_name,
        source_file,
        sum(row_count) as input_rows

    from row_ledger
    group by 1, 2

),

rejected_per_reason as (

    select
        source_name,
        source_file,
        reason_code,
        count(*) as rejected_rows,
        -- The smallest record as text: the same sample on every run.
        min(raw_record) as sample_raw_record

    from rejected_rows
    {% if reason_code is not none -%}
    where reason_code = '{{ reason_code | replace("'", "\\'") }}'
    {%- endif %}
    group by 1, 2, 3

),

final as (

    select
        rejected_per_reason.source_name,
        rejected_per_reason.source_file,
        rejected_per_reason.reason_code,
        rejection_reasons.description as reason_description,
        rejected_per_reason.rejected_rows,
        input_rows_per_file.input_rows,
        round(
            cast(rejected_per_reason.rejected_rows as decimal(18, 0))
            / input_rows_per_file.input_rows,
            6
        ) as rejected_share,
        rejected_per_reason.sample_raw_record

    from rejected_per_reason
    left join rejection_reasons
        on rejected_per_reason.reason_code = rejection_reasons.reason_code
    left join input_rows_per_file
        on
            rejected_per_reason.source_name = input_rows_per_file.source_name
            and rejected_per_reason.source_file = input_rows_per_file.source_file

)

select * from final
-- rejected_rows desc, source_name, source_file, reason_code
order by 5 desc, 1 asc, 2 asc, 3 asc
