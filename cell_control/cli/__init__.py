"""The `ironcell` command line. Each command group lives in its own module and registers itself."""
