{#- The source CTE body shared by stg_trades and stg_ohlcv_1m: a Databento CSV read with the
    column types Python chose from its header (numbered in file order), or a registered relation. -#}
{% if source == 'csv' %}
    select
        *,
        row_number() over () - 1 as position
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
