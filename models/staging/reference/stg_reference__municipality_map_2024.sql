{{ staged(ref('municipality_map_2024')) }}
