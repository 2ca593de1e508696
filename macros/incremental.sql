{#
    What an incremental run rebuilds.

    Month-partitioned models: which purchase months an incremental run rewrites. The month-partitioned
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
    {%- for value in requested if (value | string).strip() -%}
        {%- set text = (value | string).strip() -%}
        {#- 01-12: a month 13 would cast to a null date and match no row. -#}
        {%- if not modules.re.match('^[0-9]{4}-(0[1-9]|1[0-2])(-01)?$', text) -%}
            {{ exceptions.raise_compiler_error(
                "var refresh_months: '" ~ text ~ "' is not a month; expected yyyy-MM"
                ~ " (01-12), e.g. 2018-02."
            ) }}
        {%- endif -%}
        {%- do months.append(text[:7] ~ '-01') -%}
    {%- endfor -%}
    {{ return(months | unique | list | sort) }}
{% endmacro %}


{#- What a month-partitioned table built straight from the transactions input
    (cln_transactions, qa_transaction_flags) rewrites in this run:
    {'months': [...], 'files': [...]} (none for both on a full build: every
    month, every file). The months are those of the changed files' rows, before
    (as loaded) and after (as delivered), or the months in var refresh_months;
    the files are the input files that hold rows of those months - the changed
    ones and the unchanged ones already loaded for those months, or every
    delivered file when months are named - so Spark reads those files alone
    (a filter on the file path prunes the scan; a month filter cannot, the
    input is not partitioned). A month whose rows all came from removed files
    is dropped.

    `spec` describes the table: `month_column` (its partition column),
    `month_expression` (that column computed from a row of
    `validated_relation`), `month_literal` ('date' or '' for a string column),
    `rows_filter` (the rows it keeps) and `rules_stamp`, a value every row of
    the table carries in column rules_stamp: the md5 of the model code and of
    whatever var or input its rules depend on. A file loaded under another
    stamp counts as changed, so a changed var or rule rewrites every month
    instead of leaving months built by the old one. -#}
{% macro input_to_rewrite(validated_relation, source_name, spec) %}
    {#- Only run, build (and test, for unit tests) decide months and may drop
        partitions; compile, docs generate and show render the full build. -#}
    {%- if not execute or flags.WHICH not in ['run', 'build', 'test'] -%}
        {{ return({'months': none, 'files': none, 'input_state': ''}) }}
    {%- endif -%}
    {%- set requested = requested_refresh_months() -%}
    {#- In a unit test `this` is none (is_incremental() cannot be asked): the
        test selects months with the var refresh_months, or gets a full build. -#}
    {%- if this is none -%}
        {{ return({'months': requested, 'files': none, 'input_state': ''}) }}
    {%- endif -%}

    {#- The delivered input files, by path and modification time, from a
        listing of the source's directory (about 0.1 s; the same _metadata
        fields stg_billups__transactions stores, so the paths are spelled
        alike). With the rules they make input_state, what this run builds
        from: the rules_stamp and a short hash of each file's path and time.
        The model writes it into its SQL; its post-hook record_loaded_input
        keeps it once the build succeeded. -#}
    {%- set delivered = {} -%}
    {%- for row in run_query(
        'select _metadata.file_path, cast(_metadata.file_modification_time as string) from '
        ~ file_listing(source_relation(source_name))
    ).rows -%}
        {%- do delivered.update({row[0]: row[1]}) -%}
    {%- endfor -%}
    {%- set hashes = {} -%}
    {%- for file in delivered -%}
        {%- do hashes.update({file: file_hash(file, delivered[file])}) -%}
    {%- endfor -%}
    {%- set file_hashes = hashes.values() | sort -%}
    {%- set input_state = ([spec.rules_stamp] + file_hashes) | join(' ') -%}
    {%- if not is_incremental() -%}
        {{ return({'months': none, 'files': none, 'input_state': input_state}) }}
    {%- endif -%}

    {#- What the last successful build recorded (record_loaded_input): the
        rules and the table's files as it left them, then its input files.
        When those match, the table's rows need not be read (about 4 s on the
        full-scale set): the same files mean nothing to rewrite, and files
        only added mean the months of the new files, rewritten with the files
        already loaded for them. -#}
    {%- set recorded = recorded_stamp(this, 'billups.loaded_input').split(' ') -%}
    {%- set recorded_files = recorded[1:] -%}
    {%- set as_left = requested is none and recorded[0] == loaded_table(spec.rules_stamp) -%}
    {%- if as_left and recorded_files in [file_hashes, [listing_digest(file_hashes)]] -%}
        {{ log(this.identifier ~ ': input files and rules as at the last build', info=true) }}
        {{ log_rewrite([], []) }}
        {{ return({'months': [], 'files': [], 'input_state': input_state}) }}
    {%- endif -%}
    {%- set added = [] -%}
    {%- for file in delivered | sort if hashes[file] not in recorded_files -%}
        {%- do added.append(file) -%}
    {%- endfor -%}
    {%- set only_added = as_left and recorded_files and not recorded_files[0].startswith('=')
        and (delivered | length) - (added | length) == (recorded_files | length) -%}

    {%- set months_delivered = [] -%}
    {%- if only_added -%}
        {{ log(this.identifier ~ ': ' ~ (added | length) ~ ' new input file(s), the others'
               ~ ' as at the last build', info=true) }}
        {%- for month in months_of_files(validated_relation, spec, added) -%}
            {%- do months_delivered.append(month) -%}
        {%- endfor -%}
    {%- endif -%}

    {#- The input files that differ from those the table was built from, by
        path and modification time: new (delivered, not loaded), removed
        (loaded, not delivered) or re-delivered (another time), and those
        loaded under another rules_stamp. The loaded ones come from the
        partition column and three dictionary-encoded columns of the table:
        of every month, or, when files were only added, of their months (to
        read the files already loaded for them). -#}
    {%- set loaded = [] if only_added and not months_delivered else run_query(
        'select cast(' ~ spec.month_column ~ ' as string), source_file,'
        ~ ' cast(max(source_file_modified_at) as string),'
        ~ " bool_and(rules_stamp = '" ~ spec.rules_stamp ~ "') from " ~ this
        ~ ' where source_file is not null and '
        ~ (in_list(spec.month_column, months_delivered, literal_type=spec.month_literal)
           if only_added else 'true')
        ~ ' group by 1, 2'
    ).rows -%}
    {#- A file's months can carry different times (a --months run rewrote some
        of them only): it is unchanged when every one is the delivered time
        and every one was built under this run's rules. -#}
    {%- set loaded_files = {} -%}
    {%- for row in loaded -%}
        {%- do loaded_files.setdefault(row[1], []).append(row[2] if row[3] else 'other rules') -%}
    {%- endfor -%}
    {%- set changed = [] -%}
    {%- set delivered_changed = [] -%}
    {%- if only_added -%}
        {%- do changed.extend(added) -%}
        {%- do delivered_changed.extend(added) -%}
    {%- else -%}
        {%- for file in (delivered.keys() | list) + (loaded_files.keys() | list) -%}
            {%- if (loaded_files.get(file, []) | unique | list) != [delivered.get(file)]
                   and file not in changed -%}
                {%- do changed.append(file) -%}
                {%- if file in delivered -%}
                    {%- do delivered_changed.append(file) -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
        {%- for month in months_of_files(validated_relation, spec, delivered_changed) -%}
            {%- do months_delivered.append(month) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set months_loaded = [] -%}
    {%- set months_kept = [] -%}
    {%- for row in loaded -%}
        {%- do (months_loaded if row[1] in changed else months_kept).append(row[0] | string) -%}
    {%- endfor -%}

    {#- The months in var refresh_months are rewritten on top of those the
        changed files need: a new file read for a requested month only would
        look loaded, and its other months would never be. -#}
    {%- set gone = [] -%}
    {%- set months = [] -%}
    {%- for month in (months_delivered + months_loaded + (requested or [])) | unique -%}
        {%- if month in months_delivered or month in months_kept or month in (requested or []) -%}
            {%- do months.append(month) -%}
        {%- else -%}
            {%- do gone.append(month) -%}
            {%- do run_query('alter table ' ~ this ~ ' drop if exists partition ('
                ~ spec.month_column ~ ' = ' ~ spec.month_literal ~ "'" ~ month ~ "')") -%}
        {%- endif -%}
    {%- endfor -%}
    {#- Named months are rebuilt from every delivered file: the table's rows
        cannot be trusted to name the files that hold a month someone asks to
        rebuild (a partition emptied outside dbt has none, and was rewritten
        from no file). The input is not partitioned by month, so such a run
        reads the whole input once. Otherwise: the changed files, and the
        unchanged ones loaded for the months rewritten. -#}
    {%- if requested -%}
        {%- set files = delivered.keys() | list -%}
    {%- else -%}
        {%- set files = delivered_changed[:] -%}
        {%- for row in loaded if row[0] | string in months and row[1] not in changed -%}
            {%- do files.append(row[1]) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set files = files | unique | list | sort -%}

    {{ log_rewrite(months | sort, gone | sort) }}
    {%- if months -%}
        {{ log(this.identifier ~ ': reading ' ~ (files | length) ~ ' input file(s) for them', info=true) }}
    {%- endif -%}
    {{ return({'months': months | sort, 'files': files, 'input_state': input_state}) }}
{% endmacro %}


{#- The months (as strings) of the rows of `files` that `spec` keeps, read
    from validated_relation: [] without a file. -#}
{% macro months_of_files(validated_relation, spec, files) %}
    {%- set months = [] -%}
    {%- if files -%}
        {%- set query -%}
            select distinct cast({{ spec.month_expression }} as string)
            from {{ validated_relation }}
            where {{ spec.rows_filter }} and {{ in_list('source_file', files) }}
        {%- endset -%}
        {%- for row in run_query(query).rows -%}
            {%- do months.append(row[0] | string) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(months) }}
{% endmacro %}


{#- A short hash of an input file's path and modification time: 12 hex
    digits (48 bits), as input_state lists the delivered files. -#}
{% macro file_hash(path, modified_at) %}
    {{ return(local_md5(path ~ ' ' ~ modified_at)[:12]) }}
{% endmacro %}


{#- One token for the files of an input_state too long to keep as a table
    property: '=' and the md5 of their sorted file hashes. -#}
{% macro listing_digest(file_hashes) %}
    {{ return('=' ~ local_md5(file_hashes | sort | join(' '))) }}
{% endmacro %}


{#- The post-hook of a model built with input_to_rewrite: once the build
    succeeded, keeps the input_state the run built from (the model writes it
    into its SQL as a comment, "billups.input_state <rules> <file hashes>": a
    hook is rendered apart from the model and cannot see its variables) as
    the table property billups.loaded_input: loaded_table of the rules, then
    the file hashes. A property holds 4000 characters in some metastores:
    beyond about 300 files it keeps one digest of them instead (a run with
    the same files is still seen, added files are then found from the rows).
    A failed build records nothing: the old value stays true of the table,
    unless the failure changed the table's files, and then it no longer
    matches. -#}
{% macro record_loaded_input() %}
    {%- if execute and this is not none -%}
        {%- set input_state = value_in_compiled_sql('input_state', '[0-9a-f]{32}(?: [0-9a-f]{12})*') -%}
        {%- if input_state -%}
            {%- set parts = input_state.split(' ') -%}
            {%- set table_state = loaded_table(parts[0]) -%}
            {%- set value = ([table_state] + parts[1:]) | join(' ') -%}
            {%- if value | length > 3900 -%}
                {%- set value = table_state ~ ' ' ~ listing_digest(parts[1:]) -%}
            {%- endif -%}
            alter table {{ this }} set tblproperties ('billups.loaded_input' = '{{ value }}')
        {%- endif -%}
    {%- endif -%}
{% endmacro %}


{#- md5 of a rules_stamp and of the calling model's table files
    (table_files): the first token of billups.loaded_input. A table changed
    since it was recorded (a failed rewrite, a change outside dbt)
    or built under other rules never matches. -#}
{% macro loaded_table(rules_stamp) %}
    {{ return(local_md5(rules_stamp ~ '\n' ~ table_files(this))) }}
{% endmacro %}


{#- The input month of a transaction row, from its parsed purchase_ts:
    'yyyy-MM-01', or 'unreadable' when purchase_date does not parse. Identical
    rows share it, and every row has one (rejected rows too): the partition
    of qa_transaction_flags. -#}
{% macro input_month() %}
    {{- "coalesce(cast(cast(date_trunc('month', purchase_ts) as date) as string), 'unreadable')" -}}
{% endmacro %}


{#- The rules_stamp of a month-partitioned model built from the input
    (input_to_rewrite): an md5 of its code and of the code of the views it
    reads (node_state with files=false: the validation and staging rules), of `rules` (the values of the
    vars its rules read) and of node_state of each node in `inputs` (other
    inputs whose change must redo every month). '' where there is no model to
    stamp (lint); in a unit test (`this` is none) only the code and `rules`. -#}
{% macro rules_stamp(rules, inputs=[]) %}
    {%- if not execute or model is not defined -%}
        {{ return('') }}
    {%- endif -%}
    {%- set parts = [model.raw_code, rules | string] -%}
    {#- A unit test has no `this` and its node lists no depends_on.nodes; it
        does not compare stamps (input_to_rewrite returns before). -#}
    {%- if this is not none -%}
        {%- for node_id in model.depends_on.nodes | sort -%}
            {%- do parts.append(node_id ~ '=' ~ node_state(node_id, files=false)) -%}
        {%- endfor -%}
        {%- for node_id in inputs -%}
            {%- do parts.append(node_id ~ '=' ~ node_state(node_id)) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(local_md5(parts | join('\n'))) }}
{% endmacro %}


{#- The months a month-partitioned model built from `upstream` (a model
    partitioned by purchase_month) rewrites in this run: a list of
    'yyyy-MM-01', or none on a full build. A month is rewritten when its
    partition upstream holds a file written at or after the oldest file of the
    same partition here (or is missing here): a month rewritten upstream, even
    by an earlier run that failed before reaching this model, is caught. A
    month gone upstream is dropped here, since insert_overwrite only replaces
    the partitions its query returns. Both sides are file listings (no row is
    read); a file system with coarse modification times at worst rewrites a
    month that did not need it.

    Optional: `month_column`, this table's partition column; `inputs`, other
    relations it reads whole (a lookup such as cln_merchants): a file of
    theirs written at or after a month's oldest file rewrites that month; and
    `rules`, a rules_stamp kept in the table property billups.rules_stamp
    (record_rules_stamp, a post-hook): another stamp rewrites every month, so
    a changed var or model does not leave months built by the old one. -#}
{% macro months_to_rewrite(upstream, month_column='purchase_month', inputs=[], rules=none) %}
    {%- if not execute or flags.WHICH not in ['run', 'build', 'test'] -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if this is none or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set upstream_times = month_file_times(upstream) -%}
    {%- set own_times = month_file_times(this, month_column) -%}
    {%- set newest_input = [0] -%}
    {%- for relation in inputs -%}
        {%- for row in run_query('select max(unix_millis(modificationTime)) from '
            ~ file_listing(relation)).rows if row[0] is not none -%}
            {%- do newest_input.append(row[0]) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set newest_input = newest_input | max -%}
    {%- set other_rules = rules is not none
        and recorded_stamp(this, 'billups.rules_stamp') != rules -%}
    {%- set months = [] -%}
    {%- set gone = [] -%}
    {%- for month, times in upstream_times.items() -%}
        {%- if other_rules or month not in own_times
               or [times.newest, newest_input] | max >= own_times[month].oldest -%}
            {%- do months.append(month) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for month in own_times if month not in upstream_times -%}
        {%- do gone.append(month) -%}
        {%- do run_query('alter table ' ~ this ~ ' drop if exists partition ('
            ~ month_column ~ " = date'" ~ month ~ "')") -%}
    {%- endfor -%}
    {{ log_rewrite(months | sort, gone | sort) }}
    {{ return(months | sort) }}
{% endmacro %}


{#- The post-hook of a model that passes `rules` to months_to_rewrite: records
    them as the table property billups.rules_stamp once the build succeeded.
    A hook is rendered apart from the model and cannot see its variables, so
    the model writes the stamp into its SQL as a comment
    (`-- billups.rules_stamp <md5>`) and the hook reads it back from the
    compiled code: the stamp is computed once, and the two cannot differ. -#}
{% macro record_rules_stamp() %}
    {%- if execute and this is not none -%}
        {%- set rules = value_in_compiled_sql('rules_stamp', '[0-9a-f]{32}') -%}
        {%- if rules -%}
            alter table {{ this }} set tblproperties ('billups.rules_stamp' = '{{ rules }}')
        {%- endif -%}
    {%- endif -%}
{% endmacro %}


{#- For a post-hook: the value its model wrote into its SQL as the comment
    `-- billups.<key> <value>` (a hook is rendered apart from the model and
    cannot see its variables), matched by `value_pattern`; none without it. -#}
{% macro value_in_compiled_sql(key, value_pattern) %}
    {%- set found = modules.re.search('billups[.]' ~ key ~ ' (' ~ value_pattern ~ ')',
                                      model.compiled_code or '') -%}
    {{ return(found.group(1) if found else none) }}
{% endmacro %}


{#- Per month partition of a month-partitioned table (partition column
    `month_column`): the oldest and newest modification time of its files, in
    epoch milliseconds, as {'yyyy-MM-01': {'oldest': ..., 'newest': ...}}.
    Spark's binaryFile source lists the files and reads the month from the
    partition directory names. -#}
{% macro month_file_times(relation, month_column='purchase_month') %}
    {%- set times = {} -%}
    {%- set query -%}
        select
            cast({{ month_column }} as string),
            min(unix_millis(modificationTime)),
            max(unix_millis(modificationTime))
        from {{ file_listing(relation) }}
        group by 1
    {%- endset -%}
    {%- for row in run_query(query).rows -%}
        {%- do times.update({row[0]: {'oldest': row[1], 'newest': row[2]}}) -%}
    {%- endfor -%}
    {{ return(times) }}
{% endmacro %}


{#- The one log line per month-partitioned model and run (tests read it). -#}
{% macro log_rewrite(months, gone) %}
    {{ log(this.identifier ~ ': rewriting ' ~ (months | length) ~ ' month(s)'
           ~ (' ' ~ (months | join(', ')) if months else '')
           ~ ('; dropped ' ~ (gone | join(', ')) if gone else ''), info=true) }}
{% endmacro %}


{#- SQL filter keeping `column` in `months`: `true` on a full build, `false`
    when no month changed. -#}
{% macro in_months(column, months) %}
    {{- in_list(column, months, literal_type='date') -}}
{% endmacro %}


{#- SQL filter keeping `column` in `values`, written as quoted literals (typed
    with `literal_type`, e.g. date'2018-02-01'): `true` when values is none,
    `false` when it is empty. -#}
{% macro in_list(column, values, literal_type='') %}
    {%- if values is none -%}
        true
    {%- elif values | length == 0 -%}
        false
    {%- else -%}
        {{ column }} in ({% for value in values %}{{ literal_type }}'{{ value | replace("\\", "\\\\") | replace("'", "\\'") }}'{{ ', ' if not loop.last }}{% endfor %})
    {%- endif -%}
{% endmacro %}


{#- Tables rebuilt whole (the merchants chain, the marts, qa_metrics, the
    quarantine and the row ledger), built only when their inputs moved. The
    table records a stamp of what it was built from as the table property
    billups.inputs_stamp: an md5 of the model's compiled SQL (so a changed
    model, macro or var rebuilds it) and of the state of every node it reads
    (inputs_stamp). A run whose stamp equals the recorded one keeps the table,
    so a scheduled run with no new input rebuilds nothing downstream of the
    unchanged incremental tables. `--full-refresh`, a missing table or a
    missing stamp rebuild it, as dbt's table materialization does (drop, then
    create table as select). -#}
{% materialization stamped_table, adapter='spark' %}
    {%- set target_relation = api.Relation.create(
        identifier=model['alias'], schema=schema, database=database, type='table') -%}
    {%- set old_relation = adapter.get_relation(
        database=database, schema=schema, identifier=model['alias']) -%}
    {%- set states = input_states() -%}
    {%- set stamp = inputs_stamp(compiled_code, states) -%}
    {%- set can_keep = old_relation is not none and old_relation.is_table
        and not should_full_refresh() -%}
    {%- set recorded = table_properties(target_relation) if can_keep else {} -%}
    {%- set keep = can_keep and recorded.get('billups.inputs_stamp') == stamp -%}
    {%- set state = inputs_stamp(model.raw_code, states) -%}

    {{ run_hooks(pre_hooks) }}
    {%- if keep -%}
        {{ log(model['alias'] ~ ': inputs unchanged, table kept', info=true) }}
        {#- A table built by a version that did not record its state. -#}
        {%- if recorded.get('billups.inputs_state') != state -%}
            {%- do run_query('alter table ' ~ target_relation
                ~ " set tblproperties ('billups.inputs_state' = '" ~ state ~ "')") -%}
        {%- endif -%}
        {%- call statement('main') -%}
            select 1
        {%- endcall -%}
    {%- else -%}
        {%- if can_keep -%}
            {{ log(model['alias'] ~ ': inputs changed, rebuilding', info=true) }}
        {%- endif -%}
        {%- if old_relation is not none -%}
            {{ adapter.drop_relation(old_relation) }}
        {%- endif -%}
        {%- call statement('main') -%}
            {{ create_table_as(False, target_relation, compiled_code) }}
        {%- endcall -%}
        {#- After the build: a failed build leaves no stamp, so the next run
            rebuilds. billups.inputs_state (the model's code instead of its
            compiled SQL) lets the model's own compilation ask whether its
            inputs moved (files_with_rejected_rows). -#}
        {%- do run_query('alter table ' ~ target_relation
            ~ " set tblproperties ('billups.inputs_stamp' = '" ~ stamp ~ "',"
            ~ " 'billups.inputs_state' = '" ~ state ~ "')") -%}
        {%- do persist_docs(target_relation, model) -%}
    {%- endif -%}
    {{ run_hooks(post_hooks) }}

    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#- A stamp property of a table: billups.inputs_stamp of a stamped_table by
    default ('' when it has none). -#}
{% macro recorded_stamp(relation, property='billups.inputs_stamp') %}
    {{ return(table_properties(relation).get(property, '')) }}
{% endmacro %}


{#- The properties of a table, as a dict. -#}
{% macro table_properties(relation) %}
    {%- set properties = {} -%}
    {%- for row in run_query('show tblproperties ' ~ relation).rows -%}
        {%- do properties.update({row[0]: row[1]}) -%}
    {%- endfor -%}
    {{ return(properties) }}
{% endmacro %}


{#- md5 of `code` (the model's compiled SQL, or its code) and of node_state of
    each node it reads (`states`, from input_states, when already at hand). -#}
{% macro inputs_stamp(code, states=none) %}
    {%- set states = input_states() if states is none else states -%}
    {{ return(local_md5(([local_md5(code)] + states) | join('\n'))) }}
{% endmacro %}


{#- node_state of each node the model reads, as 'node_id=state' strings. -#}
{% macro input_states() %}
    {%- set states = [] -%}
    {%- for node_id in model.depends_on.nodes | sort -%}
        {%- do states.append(node_id ~ '=' ~ node_state(node_id)) -%}
    {%- endfor -%}
    {{ return(states) }}
{% endmacro %}


{#- What a node read by a stamped_table holds now, as text that changes whenever
    its rows can have changed. A view (or an ephemeral model): its code and the
    state of what it reads (its code as written: a var used in a view would not
    be seen; test_views_use_no_var keeps the views free of vars). A seed: its
    row count and a hash of its rows (every `dbt seed`, hence every `dbt build`,
    rewrites its files). Anything else stored (a source, a table, an incremental
    model): its files (table_files). With files=false only the code counts: a
    view's code and that of the views it reads, '' for anything stored
    (rules_stamp). -#}
{% macro node_state(node_id, files=true) %}
    {%- set node = graph.sources.get(node_id) or graph.nodes.get(node_id) -%}
    {%- if node.resource_type == 'model' and node.config.materialized in ['view', 'ephemeral'] -%}
        {%- set states = [node.checksum.checksum] -%}
        {%- for upstream in node.depends_on.nodes | sort -%}
            {%- do states.append(upstream ~ '=' ~ node_state(upstream, files)) -%}
        {%- endfor -%}
        {{ return(local_md5(states | join('\n'))) }}
    {%- endif -%}
    {%- if not files -%}
        {{ return('') }}
    {%- endif -%}
    {%- if node.resource_type == 'seed' -%}
        {%- set query = 'select count(*), sum(cast(xxhash64(*) as decimal(38, 0))) from '
            ~ node.relation_name -%}
        {{ return(run_query(query).rows | map('list') | map('string') | join(';')) }}
    {%- endif -%}
    {{ return(table_files(node.relation_name)) }}
{% endmacro %}


{#- The files under a table's location, by path, modification time and size,
    as one md5. Every write (a rebuild, a rewritten partition, a re-delivered
    input file) makes new files. -#}
{% macro table_files(relation) %}
    {%- set files = run_query(
        'select path, cast(modificationTime as string), length from ' ~ file_listing(relation)
    ).rows | map('list') | map('string') | sort | list -%}
    {{ return(local_md5(files | join('\n'))) }}
{% endmacro %}


{#- The files of a table or source as a relation to select from: Spark's
    binaryFile source over the Location `describe table extended` gives. It lists
    the files without reading them (a tenth of a second, where reading _metadata
    through the table iterates every row: seconds on the full-scale input) as
    long as no query selects its content column. -#}
{% macro file_listing(relation) %}
    {%- set location = [] -%}
    {%- for row in run_query('describe table extended ' ~ relation).rows
        if row[0] == 'Location' -%}
        {%- do location.append(row[1]) -%}
    {%- endfor -%}
    {%- if not location -%}
        {{ exceptions.raise_compiler_error(relation ~ ': describe table extended gives no Location') }}
    {%- endif -%}
    {{ return('binaryFile.`' ~ location[0] | replace('`', '``') ~ '`') }}
{% endmacro %}


{#- The relation of the source table `name` of source billups, found in the
    graph rather than with source(), which would make it an input of the
    calling model (and of its unit tests). -#}
{% macro source_relation(name) %}
    {%- for node in graph.sources.values()
        if node.source_name == 'billups' and node.name == name -%}
        {{ return(node.relation_name) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error('no source billups.' ~ name) }}
{% endmacro %}
