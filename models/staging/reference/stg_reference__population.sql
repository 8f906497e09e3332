{{ staged(ref('population')) }}
