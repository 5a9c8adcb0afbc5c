//! Names and digests of artifacts, shared by the stages that make them
//! ([`crate::emit`]) and those that must know them earlier ([`crate::resolve`]
//! refuses a project migration named like a generated one; the parse cache
//! keys its entries by digest). A leaf: it imports no stage.

use sha2::{Digest, Sha256};

/// The generated repeatable migration of a model or seed at `level` of the
/// graph: Flyway runs repeatables by description, so the level first.
pub fn repeatable_script(level: usize, name: &str) -> String {
    format!("R__{level:03}_{name}.sql")
}

pub fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

/// Lower-case hex. `write!` per byte was 4% of a compile's instructions:
/// there is a digest for every artifact.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(
            sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    /// Stages before emit take artifact names and digests from here, not
    /// from emit (which would make emit and them a cycle).
    #[test]
    fn earlier_stages_do_not_import_emit() {
        for (file, text) in [
            ("resolve.rs", include_str!("resolve.rs")),
            ("parse_cache.rs", include_str!("parse_cache.rs")),
        ] {
            assert!(!text.contains("crate::emit"), "{file} imports emit");
        }
    }

    #[test]
    fn repeatables_sort_by_level() {
        assert_eq!(repeatable_script(2, "fact_sales"), "R__002_fact_sales.sql");
        assert!(repeatable_script(9, "z") < repeatable_script(10, "a"));
    }
}
