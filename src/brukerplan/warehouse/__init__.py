"""Warehouse: the dbt build (models/, seeds/, macros/ at the project root) run as a subprocess with its outcome."""
