"""Warehouse: the dbt build (models/, seeds/, macros/ at the project root). `build` builds a new file and swaps
it in when green; `dbt_runner` runs dbt in-process; `record` reads the build record dbt writes into the
warehouse (meta.build_record); `lock_plugin` makes a directly run `dbt build` fail at once on a held file."""
