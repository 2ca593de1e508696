{#
    Registers the raw files as Spark tables so that `dbt build` works on its own,
    without a separate load step. Runs on-run-start.

    * The location is configuration: var('transactions_path') / var('merchants_path'),
      else var('data_dir') (from BILLUPS_DATA_DIR) + the delivered file name.
      A parquet path may be a single file or a folder of part files.
    * The CSV is read by header with every column as a string; staging casts.
    * Columns are checked by name against the documented schema. A missing file,
      a missing column or a type that cannot be cast stops the run with one line
      naming the file and the column.
#}

{% macro billups_source_files() %}
    {%- set data_dir = var('data_dir') | string -%}
    {{ return({
        'historical_transactions': {
            'path': var('transactions_path') or (data_dir.rstrip('/') ~ '/historical_transactions.parquet'),
            'format': 'parquet',
            'columns': {
                'authorized_flag': ['string'],
                'customer_id': ['string'],
                'city_id': ['integer'],
                'installments': ['integer'],
                'category': ['string'],
                'merchant_category_id': ['integer'],
                'merchant_id': ['string'],
                'month_lag': ['integer'],
                'purchase_date': ['string', 'timestamp'],
                'state_id': ['integer'],
                'subsector_id': ['integer'],
                'purchase_amount': ['numeric', 'integer'],
            },
        },
        'merchants': {
            'path': var('merchants_path') or (data_dir.rstrip('/') ~ '/merchants.csv'),
            'format': 'csv',
            'columns': {
                'merchant_name': ['string'], 'merchant_id': ['string'],
                'merchant_group_id': ['string'], 'merchant_category_id': ['string'],
                'subsector_id': ['string'], 'numerical_1': ['string'],
                'numerical_2': ['string'], 'most_recent_sales_range': ['string'],
                'most_recent_purchases_range': ['string'], 'avg_sales_lag3': ['string'],
                'avg_purchases_lag3': ['string'], 'active_months_lag3': ['string'],
                'avg_sales_lag6': ['string'], 'avg_purchases_lag6': ['string'],
                'active_months_lag6': ['string'], 'avg_sales_lag12': ['string'],
                'avg_purchases_lag12': ['string'], 'active_months_lag12': ['string'],
                'city_id': ['string'], 'state_id': ['string'],
            },
        },
    }) }}
{% endmacro %}


{% macro billups_type_family(data_type) %}
    {%- set dt = data_type | lower -%}
    {%- if dt in ['tinyint', 'smallint', 'int', 'integer', 'bigint'] -%}
        {{ return('integer') }}
    {%- elif dt in ['float', 'double', 'real'] or dt.startswith('decimal') -%}
        {{ return('numeric') }}
    {%- elif dt.startswith('timestamp') -%}
        {{ return('timestamp') }}
    {%- elif dt == 'string' or dt.startswith('varchar') or dt.startswith('char') -%}
        {{ return('string') }}
    {%- else -%}
        {{ return(dt) }}
    {%- endif -%}
{% endmacro %}


{% macro register_sources() %}
    {%- if execute and var('register_sources', true) -%}
        {%- set raw_schema = target.schema ~ '_raw' -%}
        {%- do run_query('create schema if not exists ' ~ raw_schema) -%}
        {%- for table_name, spec in billups_source_files().items() -%}
            {%- set relation = raw_schema ~ '.' ~ table_name -%}
            {%- set path = spec.path | replace("'", "\\'") -%}
            {%- do run_query('drop table if exists ' ~ relation) -%}
            {%- if spec.format == 'csv' -%}
                {%- set options = "path '" ~ path ~ "', header 'true', inferSchema 'false', mode 'PERMISSIVE'" -%}
            {%- else -%}
                {%- set options = "path '" ~ path ~ "'" -%}
            {%- endif -%}
            {%- set ddl = 'create table ' ~ relation ~ ' using ' ~ spec.format ~ ' options (' ~ options ~ ')' -%}
            {#- A missing path fails here with Spark's PATH_NOT_FOUND, which names
                the path; `billups run` checks the files first with a friendlier line. -#}
            {%- do run_query(ddl) -%}
            {%- set found = {} -%}
            {%- for row in run_query('describe table ' ~ relation) -%}
                {%- if row[0] and not row[0].startswith('#') and row[0] not in found -%}
                    {%- do found.update({row[0] | lower: row[1]}) -%}
                {%- endif -%}
            {%- endfor -%}
            {%- for column, families in spec.columns.items() -%}
                {%- if column not in found -%}
                    {{ exceptions.raise_compiler_error(
                        spec.path ~ ": required column '" ~ column ~ "' is missing (found: "
                        ~ (found.keys() | list | join(', ')) ~ ")."
                    ) }}
                {%- elif billups_type_family(found[column]) not in families -%}
                    {{ exceptions.raise_compiler_error(
                        spec.path ~ ": column '" ~ column ~ "' has type " ~ found[column]
                        ~ ", expected " ~ (families | join(' or ')) ~ "."
                    ) }}
                {%- endif -%}
            {%- endfor -%}
            {{ log('Registered ' ~ relation ~ ' over ' ~ spec.path, info=true) }}
        {%- endfor -%}
    {%- endif -%}
{% endmacro %}


{#- A field of Spark's hidden _metadata struct of a file source (file_path,
    file_modification_time, ...). A filter on it prunes the scan to the files
    it names. In a dbt unit test the source is a CTE of fixture rows with no
    file behind it (`this` is none there): the field is null. -#}
{% macro source_file_metadata(field, data_type) %}
    {%- if this is none -%}
        cast(null as {{ data_type }})
    {%- else -%}
        _metadata.{{ field }}
    {%- endif -%}
{% endmacro %}
