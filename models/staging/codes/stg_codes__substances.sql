{{ staged(ref('substances')) }}
