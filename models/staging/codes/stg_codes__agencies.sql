{{ staged(ref('agencies')) }}
