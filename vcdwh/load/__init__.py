"""Files into raw tables: ``stage`` reads CSV and DBN files into ``trades``/stages, ``settle``
settles their records (occurrences, held records, conflicts, symbology), ``definitions`` loads
instrument definitions."""
