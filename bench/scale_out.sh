#!/usr/bin/env bash
# Single machine vs Spark on the same data: build N trades into DuckDB, export Parquet, then
# build 1-minute bars from that Parquet with DuckDB and with Spark local[2].
# Usage: bench/scale_out.sh [TRADES_PER_DAY] [DIR]   (default 2000000 → 10M trades, /tmp/bi10m)
# Prints wall time and peak RSS of each step (GNU time). Needs the [spark] extra and Java 17.
set -euo pipefail
cd "$(dirname "$0")/.."
per_day=${1:-2000000}
dir=${2:-/tmp/bi10m}
py=${PYTHON:-.venv/bin/python}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
timed() { /usr/bin/time -f "  -> %e s wall, peak RSS %M KB" "$@"; }

rm -rf "$dir" "$dir-parquet" "$dir-spark"
echo "## sample --trades-per-day $per_day"
timed "$py" -m vcdwh --data-dir "$dir" sample --trades-per-day "$per_day"
echo "## build"
timed "$py" -m vcdwh --data-dir "$dir" build
echo "## export --format parquet"
timed "$py" -m vcdwh --data-dir "$dir" export --format parquet "$dir-parquet"
echo "## duckdb bars_1min from the Parquet"
timed "$py" -c "
import sys, time
from vcdwh.frequency import parse_frequency
from vcdwh.spark import duckdb_bars_from_parquet
t = time.perf_counter()
n = len(duckdb_bars_from_parquet(sys.argv[1], parse_frequency('1min')).fetchall())
print(f'duckdb: {n:,} bars in {time.perf_counter() - t:.2f} s')
" "$dir-parquet"
echo "## spark-bars --frequency 1min --master local[2]"
timed "$py" -m vcdwh spark-bars "$dir-parquet" --frequency 1min --master 'local[2]' \
    --output "$dir-spark"
du -sh "$dir/vcdwh.duckdb" "$dir-parquet" | sed 's/^/  /'
