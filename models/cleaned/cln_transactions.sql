-- Validated transactions, one row per input row that passed (no de-duplication:
-- identical rows are separate attempts), typed for analysis and joined to the
-- merchant lookup for the display name.
with

transactions as (

    select * from {{ ref('cln_transactions_validated') }}
    where rejection_reason is null

),

merchants as (

    select * from {{ ref('cln_merchants') }}

),

joined as (

    select /*+ broadcast(merchants) */
        transactions.merchant_id,
        case
            when transactions.merchant_id is null then 'Unknown merchant'
            else coalesce(merchants.merchant_name, transactions.merchant_id)
        end as merchant_name,
        transactions.customer_id,
        coalesce(transactions.category, 'Unknown category') as category,
        transactions.city_id,
        transactions.state_id,
        transactions.installments,
        case
            when transactions.installments in (0, 1) then 'single'
            when transactions.installments between 2 and 36 then 'installments'
            else 'unknown'
        end as installment_plan_type,
        transactions.merchant_category_id,
        transactions.subsector_id,
        transactions.month_lag,
        cast(transactions.purchase_amount as decimal(18, 2)) as purchase_amount,
        transactions.authorized_flag = 'Y' as is_authorized,
        merchants.merchant_id is not null as has_merchant_record,
        transactions.purchase_ts,
        to_date(transactions.purchase_ts) as purchase_date,
        cast(date_trunc('month', transactions.purchase_ts) as date) as purchase_month,
        hour(transactions.purchase_ts) as purchase_hour,
        transactions.source_file

    from transactions
    left join merchants
        on transactions.merchant_id = merchants.merchant_id

)

select * from joined
