{{ staged(ref('code_values')) }}
