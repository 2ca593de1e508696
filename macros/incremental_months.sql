{#
    Which purchase months an incremental run rewrites. The month-partitioned
    tables (cln_transactions, int_sales_*) are built with insert_overwrite: the
    partitions a run selects are replaced, the others are left as they are. These
    macros decide the months, at execution time, and return them as a list of
    'yyyy-MM-01' strings (empty: nothing to rewrite).
#}

{#- The months named by var('refresh_months') ('2018-02' or '2018-02-01', a list
    or a comma-separated string), or none when the var is not set. -#}
{% macro requested_refresh_months() %}
    {%- set requested = var('refresh_months', none) -%}
    {%- if requested is none or requested == '' or requested == [] -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if requested is string -%}
        {%- set requested = requested.split(',') -%}
    {%- endif -%}
    {%- set months = [] -%}
    {%- for value in requested -%}
        {%- set text = (value | string).strip() -%}
        {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}(-01)?$', text) -%}
            {{ exceptions.raise_compiler_error(
                "var refresh_months: '" ~ text ~ "' is not a month; expected yyyy-MM, e.g. 2018-02."
            ) }}
        {%- endif -%}
        {%- do months.append(text[:7] ~ '-01') -%}
    {%- endfor -%}
    {{ return(months | unique | list | sort) }}
{% endmacro %}


{#- Months whose input changed since the table was built: per (source file,
    month), the number of valid input rows differs from the rows the table holds.
    That catches a new part file, a removed one and a re-delivered file with a
    different row count. A file re-delivered under the same name with the same
    counts is not detected: pass refresh_months (billups run --months) or
    --full-refresh. Returns rows (month, is_gone): is_gone when no input row of
    the month is left. -#}
{% macro months_with_changed_input(validated_relation) %}
    {%- set query -%}
        with

        delivered as (
            select
                source_file,
                cast(date_trunc('month', purchase_ts) as date) as purchase_month,
                count(*) as row_count
            from {{ validated_relation }}
            where rejection_reason is null
            group by 1, 2
        ),

        loaded as (
            select source_file, purchase_month, count(*) as row_count
            from {{ this }}
            group by 1, 2
        ),

        compared as (
            select
                coalesce(delivered.purchase_month, loaded.purchase_month) as purchase_month,
                coalesce(delivered.row_count, 0) as delivered_rows,
                coalesce(delivered.row_count, -1) != coalesce(loaded.row_count, -1) as changed
            from delivered
            full outer join loaded
                on delivered.source_file = loaded.source_file
                and delivered.purchase_month = loaded.purchase_month
        )

        select cast(purchase_month as string), sum(delivered_rows) = 0
        from compared
        group by 1
        having max(changed)
    {%- endset -%}
    {{ return(run_query(query).rows) }}
{% endmacro %}


{#- Months of `upstream` loaded after `this` was last built from them: per month,
    max(loaded_at) upstream differs from the source_loaded_at recorded here. A
    failed run leaves the stamps apart, so the next run catches up. Returns rows
    (month, is_gone). -#}
{% macro months_loaded_since(upstream) %}
    {%- set query -%}
        with

        upstream as (
            select purchase_month, max(loaded_at) as loaded_at
            from {{ upstream }}
            group by 1
        ),

        built as (
            select purchase_month, max(source_loaded_at) as loaded_at
            from {{ this }}
            group by 1
        )

        select
            cast(coalesce(upstream.purchase_month, built.purchase_month) as string),
            upstream.purchase_month is null
        from upstream
        full outer join built
            on upstream.purchase_month = built.purchase_month
        where not (upstream.loaded_at <=> built.loaded_at)
    {%- endset -%}
    {{ return(run_query(query).rows) }}
{% endmacro %}


{#- The months to rewrite in this run (list of 'yyyy-MM-01'), logged. `mode` is
    'input' (compare with the validated input, for cln_transactions) or
    'upstream' (follow the loaded_at stamps of a month-partitioned model).
    Partitions of months that have no rows any more are dropped here, since
    insert_overwrite only replaces the partitions its query returns. On a full
    build (not is_incremental()) it returns none. -#}
{% macro months_to_rewrite(upstream, mode) %}
    {#- Only run, build (and test, for unit tests) decide months and may drop
        partitions; compile, docs generate and show render the full build. -#}
    {%- if not execute or flags.WHICH not in ['run', 'build', 'test'] -%}
        {{ return(none) }}
    {%- endif -%}
    {#- In a unit test `this` is none (is_incremental() cannot be asked): the
        test selects months with the var refresh_months, or gets a full build. -#}
    {%- if this is none -%}
        {{ return(requested_refresh_months() if mode == 'input' else none) }}
    {%- endif -%}
    {%- if not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set requested = requested_refresh_months() if mode == 'input' else none -%}
    {%- if requested is not none -%}
        {%- set rows = [] -%}
        {%- for month in requested -%}
            {%- do rows.append([month, false]) -%}
        {%- endfor -%}
    {%- elif mode == 'input' -%}
        {%- set rows = months_with_changed_input(upstream) -%}
    {%- else -%}
        {%- set rows = months_loaded_since(upstream) -%}
    {%- endif -%}
    {%- set months = [] -%}
    {%- set gone = [] -%}
    {%- for row in rows -%}
        {%- if row[1] -%}
            {%- do gone.append(row[0] | string) -%}
            {%- do run_query('alter table ' ~ this ~ " drop if exists partition (purchase_month = date'" ~ row[0] ~ "')") -%}
        {%- else -%}
            {%- do months.append(row[0] | string) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ log(this.identifier ~ ': rewriting ' ~ (months | length) ~ ' month(s)'
           ~ (' ' ~ (months | sort | join(', ')) if months else '')
           ~ ('; dropped ' ~ (gone | join(', ')) if gone else ''), info=true) }}
    {{ return(months | sort) }}
{% endmacro %}


{#- SQL filter keeping `column` in `months`: `true` on a full build, `false`
    when no month changed. -#}
{% macro in_months(column, months) %}
    {%- if months is none -%}
        true
    {%- elif months | length == 0 -%}
        false
    {%- else -%}
        {{ column }} in ({% for month in months %}date'{{ month }}'{{ ', ' if not loop.last }}{% endfor %})
    {%- endif -%}
{% endmacro %}
