-- rejected_rows: records left out by `vcdwh build --on-bad-rows skip`, one row per bad record:
-- the file, its line (CSV, header = line 1) or record number (DBN), why, and the raw text.
create table if not exists rejected_rows (
    file_id integer not null,
    path varchar not null,
    line bigint not null,
    reason varchar not null,
    raw varchar not null,
    rejected_at timestamp not null
)
