{{ staged(ref('user_groups')) }}
