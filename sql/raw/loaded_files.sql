-- loaded_files: one row per ingested file. A file whose content hash is here is skipped, and so
-- is one whose path, size and modification time (mtime_ns) match a row, without hashing it again.
create table if not exists loaded_files (
    file_id integer primary key,
    path varchar not null,
    content_hash varchar not null,
    schema varchar not null,
    layout varchar not null,
    rows bigint not null,
    rows_added bigint not null,
    bytes bigint not null,
    loaded_at timestamp not null,
    mtime_ns bigint
);

alter table loaded_files add column if not exists mtime_ns bigint
