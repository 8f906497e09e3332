{{ staged(ref('counties')) }}
