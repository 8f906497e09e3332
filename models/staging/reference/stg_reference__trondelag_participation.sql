{{ staged(ref('trondelag_participation')) }}
