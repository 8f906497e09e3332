{{ staged(ref('services')) }}
