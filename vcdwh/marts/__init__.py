"""Raw tables into marts: ``frequency`` (bar intervals and every relation name), ``orderflow``
(the build's order-flow options) and ``bars`` (sessions, grains, bars, footprints, rolls and
continuous series)."""
