{{ staged(ref('municipality_name_changes')) }}
