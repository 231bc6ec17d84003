{#- The futures root of an outright contract symbol: the leading letters/digits before the CME
    month code (FGHJKMNQUVXZ) and a 1-2 digit year at the end (ESH4 -> ES, MESM24 -> MES).
    NULL for calendar spreads (a `-` in the symbol) and anything else. Same rule as
    vcdwh.instruments.contract_root. -#}
case
    when {{ column }} not like '%-%'
        then nullif(regexp_extract({{ column }}, '^([A-Z0-9]+)[FGHJKMNQUVXZ][0-9]{1,2}$', 1), '')
end
