{#- The source CTE body shared by stg_trades and stg_ohlcv_1m: a Databento CSV read with the
    column types Python chose from its header (numbered in file order), or a registered relation.
    With number_rows false, position is left 0 for the caller to set from the staged table's
    rowid, which follows file order (insertion order is preserved) and is cheaper than numbering
    the rows while the table is written. -#}
{% if source == 'csv' %}
    select
        *,
{% if number_rows is defined and not number_rows %}
        0::bigint as position
{% else %}
        row_number() over () - 1 as position
{% endif %}
    from read_csv(
        $path,
        header = true,
        auto_detect = false,
        delim = ',',
        quote = '"',
        escape = '"',
        strict_mode = true,
        null_padding = false,
{% if store_rejects is defined and store_rejects %}
        store_rejects = true,
        rejects_scan = 'stg_reject_scans',
        rejects_table = 'stg_reject_errors',
{% endif %}
        columns = {
{% for name, type in columns %}
            '{{ name }}': '{{ type }}'{{ "," if not loop.last }}
{% endfor %}
        }
    )
{% else %}
    select * from {{ relation }}
{% endif %}
