"""Returns: each municipality's own person-level data back (warehouse.md "Returning data to each municipality"),
read from the warehouse only: keys (one secret per municipality, from a file outside the project) -> data (the
returns models of one municipality) -> workbook (four sheets) -> crypto (Office and PDF encryption in memory) ->
package (written atomically, 0700/0600, manifest). `command.run_return_command` runs them."""
