//! A short, stable digest of generated objects, so that an unchanged set is recognised and not
//! written again. FNV-1a over the bytes: the same on every run and build (a change detector, not
//! a security digest).

/// 16 hex digits of FNV-1a (64 bit) over `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::digest;

    #[test]
    fn the_digest_is_stable_and_tells_inputs_apart() {
        assert_eq!(digest(b""), "cbf29ce484222325");
        assert_eq!(digest(b"a"), "af63dc4c8601ec8c");
        assert_ne!(digest(b"ab"), digest(b"ba"));
    }
}
