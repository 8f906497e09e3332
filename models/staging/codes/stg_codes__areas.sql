{{ staged(ref('areas')) }}
