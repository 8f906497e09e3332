{{ staged(ref('municipalities')) }}
