{{ staged(ref('municipality_changes')) }}
