-- loaded_files: one row per ingested file. A file whose content hash is here is skipped.
create table if not exists loaded_files (
    file_id integer primary key,
    path varchar not null,
    content_hash varchar not null,
    schema varchar not null,
    layout varchar not null,
    rows bigint not null,
    rows_added bigint not null,
    bytes bigint not null,
    loaded_at timestamp not null
)
