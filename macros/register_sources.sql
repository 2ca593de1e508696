{#- on-run-start: registers the raw files of source `billups` as Spark tables,
    so every dbt command works without a load step. The source YAML is the
    contract: each table's meta gives its file (var path_var, else var
    data_dir + file_name) and format; each column's meta the type families it
    may have and whether it is required. A missing file, a missing required
    column or a wrong type stops the run with one line naming the file and the
    column; a missing optional column is filled with nulls (a view over the
    file table). -#}
{% macro register_sources() %}
    {%- if execute and var('register_sources', true) -%}
        {%- set schema = target.schema ~ '_raw' -%}
        {%- do run_query('create schema if not exists ' ~ schema) -%}
        {%- for source in graph.sources.values() if source.source_name == 'billups' -%}
            {%- set meta = source.config.meta or source.meta -%}
            {%- set path = var(meta.path_var) or ((var('data_dir') | string).rstrip('/') ~ '/' ~ meta.file_name) -%}
            {%- set options = "path '" ~ path | replace("'", "\\'") ~ "'"
                ~ (", header 'true', inferSchema 'false', mode 'PERMISSIVE'" if meta.format == 'csv' else '') -%}
            {%- set file_table = schema ~ '.' ~ source.name ~ '__file' -%}
            {%- do run_query('drop view if exists ' ~ schema ~ '.' ~ source.name) -%}
            {%- do run_query('drop table if exists ' ~ schema ~ '.' ~ source.name) -%}
            {%- do run_query('drop table if exists ' ~ file_table) -%}
            {#- A missing path fails here with Spark's PATH_NOT_FOUND, which names it. -#}
            {%- do run_query('create table ' ~ file_table ~ ' using ' ~ meta.format ~ ' options (' ~ options ~ ')') -%}
            {%- set found = {} -%}
            {%- for row in run_query('describe table ' ~ file_table) if row[0] and not row[0].startswith('#') -%}
                {%- do found.setdefault(row[0] | lower, row[1]) -%}
            {%- endfor -%}
            {%- set nulls = [] -%}
            {%- for column in source.columns.values() if not column.name.startswith('_') -%}
                {%- set rule = column.config.meta if column.config and column.config.meta else column.meta -%}
                {%- if column.name not in found and rule.required -%}
                    {{ exceptions.raise_compiler_error(path ~ ": required column '" ~ column.name
                        ~ "' is missing (found: " ~ (found.keys() | list | join(', ')) ~ ").") }}
                {%- elif column.name not in found -%}
                    {%- do nulls.append('cast(null as ' ~ column.data_type ~ ') as ' ~ column.name) -%}
                {%- elif billups_type_family(found[column.name]) not in rule.types -%}
                    {{ exceptions.raise_compiler_error(path ~ ": column '" ~ column.name ~ "' has type "
                        ~ found[column.name] ~ ", expected " ~ (rule.types | join(' or ')) ~ ".") }}
                {%- endif -%}
            {%- endfor -%}
            {%- do run_query('create view ' ~ schema ~ '.' ~ source.name ~ ' as select *, _metadata'
                ~ (', ' ~ (nulls | join(', ')) if nulls else '') ~ ' from ' ~ file_table) -%}
            {{ log('Registered ' ~ schema ~ '.' ~ source.name ~ ' over ' ~ path
                ~ (' (no ' ~ (nulls | length) ~ ' optional column(s): null)' if nulls else ''), info=true) }}
        {%- endfor -%}
    {%- endif -%}
{% endmacro %}


{#- The family register_sources checks of a Spark type as `describe table`
    shows it: integer, numeric, timestamp or string (others as they are). -#}
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
    {%- endif -%}
    {{ return(dt) }}
{% endmacro %}


{#- A field of Spark's hidden _metadata struct of a file source (file_path,
    file_modification_time); null of `data_type` in a dbt unit test, whose
    source is a CTE of fixture rows (`this` is none there). -#}
{% macro source_file_metadata(field, data_type) %}
    {%- if this is none -%}
        cast(null as {{ data_type }})
    {%- else -%}
        _metadata.{{ field }}
    {%- endif -%}
{% endmacro %}
