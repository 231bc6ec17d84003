"""The backtest engine: ``params`` (validated once), ``seed`` and ``futures`` (inputs and walks),
``stats`` (pure), ``store`` (stored runs), ``run`` (one run), ``sweep`` (a grid of runs)."""
