{{ staged(ref('colours')) }}
