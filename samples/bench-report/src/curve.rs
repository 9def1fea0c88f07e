//! The X25519 form of a device key, for the Noise peers: the phone's Noise static key is its
//! device key's X25519 half (as libsodium's `crypto_sign_ed25519_*_to_curve25519` make it), so
//! the door can check that the chain's holder is the key the handshake authenticated. The
//! protocol crate keeps its conversion private; this is the birational map u = (1 + y) / (1 - y)
//! over GF(2^255 - 19), on public values only (not constant time; it needs not be).

/// Little-endian 64-bit limbs, value below 2^256.
type Fe = [u64; 4];

const P: Fe = [0xffff_ffff_ffff_ffed, u64::MAX, u64::MAX, 0x7fff_ffff_ffff_ffff];
const ONE: Fe = [1, 0, 0, 0];

fn sub(a: Fe, b: Fe) -> (Fe, bool) {
    let mut r = [0u64; 4];
    let mut borrow = false;
    for i in 0..4 {
        let (x, b1) = a[i].overflowing_sub(b[i]);
        let (y, b2) = x.overflowing_sub(u64::from(borrow));
        r[i] = y;
        borrow = b1 || b2;
    }
    (r, borrow)
}

fn wrapping_add(a: Fe, b: Fe) -> (Fe, bool) {
    let mut r = [0u64; 4];
    let mut carry = 0u128;
    for i in 0..4 {
        let s = u128::from(a[i]) + u128::from(b[i]) + carry;
        r[i] = s as u64;
        carry = s >> 64;
    }
    (r, carry > 0)
}

/// `a mod p` for `a < 2^256`.
fn reduce(a: Fe) -> Fe {
    let mut a = a;
    for _ in 0..2 {
        let (d, borrow) = sub(a, P);
        if !borrow {
            a = d;
        }
    }
    a
}

fn add(a: Fe, b: Fe) -> Fe {
    reduce(wrapping_add(a, b).0)
}

fn sub_mod(a: Fe, b: Fe) -> Fe {
    let (d, borrow) = sub(a, b);
    if borrow { wrapping_add(d, P).0 } else { d }
}

fn mul(a: Fe, b: Fe) -> Fe {
    let mut w = [0u64; 8];
    for i in 0..4 {
        let mut carry = 0u128;
        for j in 0..4 {
            let cur = u128::from(w[i + j]) + u128::from(a[i]) * u128::from(b[j]) + carry;
            w[i + j] = cur as u64;
            carry = cur >> 64;
        }
        w[i + 4] = carry as u64;
    }
    // 2^256 = 38 (mod p).
    let mut r = [0u64; 4];
    let mut carry = 0u128;
    for i in 0..4 {
        let cur = u128::from(w[i]) + 38 * u128::from(w[i + 4]) + carry;
        r[i] = cur as u64;
        carry = cur >> 64;
    }
    let (r, over) = wrapping_add(r, [(carry * 38) as u64, 0, 0, 0]);
    let r = if over { wrapping_add(r, [38, 0, 0, 0]).0 } else { r };
    reduce(r)
}

fn invert(a: Fe) -> Fe {
    // a^(p-2), bits from the top.
    let e = sub(P, [2, 0, 0, 0]).0;
    let mut r = ONE;
    for bit in (0..255).rev() {
        r = mul(r, r);
        if (e[bit / 64] >> (bit % 64)) & 1 == 1 {
            r = mul(r, a);
        }
    }
    r
}

/// The X25519 public key of an Ed25519 public key; `None` for y = 1 (no such point).
pub fn montgomery_u(ed25519: &[u8; 32]) -> Option<[u8; 32]> {
    let mut y = [0u64; 4];
    for (i, limb) in y.iter_mut().enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(&ed25519[8 * i..8 * i + 8]);
        *limb = u64::from_le_bytes(b);
    }
    y[3] &= 0x7fff_ffff_ffff_ffff;
    let y = reduce(y);
    let den = sub_mod(ONE, y);
    if den == [0; 4] {
        return None;
    }
    let u = mul(add(ONE, y), invert(den));
    let mut out = [0u8; 32];
    for (i, limb) in u.iter().enumerate() {
        out[8 * i..8 * i + 8].copy_from_slice(&limb.to_le_bytes());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Ed25519 base point (y = 4/5) maps to the X25519 base point u = 9.
    #[test]
    fn the_base_point_maps_to_nine() {
        let mut b = [0x66u8; 32];
        b[0] = 0x58;
        let mut nine = [0u8; 32];
        nine[0] = 9;
        assert_eq!(montgomery_u(&b), Some(nine));
    }
}
