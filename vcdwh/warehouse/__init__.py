"""The ground floor every stage stands on: connections and the write session (``db``), SQL
rendering (``sqlrender``), the contracts of ``sql/schema.toml`` (``schema``), the catalog of
comments and views (``catalog``) and statements cut into pieces of bounded size (``pieces``)."""
