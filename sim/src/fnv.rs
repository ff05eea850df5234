//! FNV-1a, 64 bit: stable content hashes for cache keys and sweep point ids (stable across
//! runs, platforms and Rust versions, unlike `std`'s `DefaultHasher`).

/// FNV-1a over `bytes`, continuing from `state` (start with [`OFFSET`]).
pub fn fnv1a(state: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(state, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The FNV-1a offset basis.
pub const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a of `bytes`.
pub fn hash(bytes: &[u8]) -> u64 {
    fnv1a(OFFSET, bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reference_values() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(super::hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(super::hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(super::hash(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
