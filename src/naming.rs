//! Names and digests of artifacts, shared by the stages that make them
//! ([`crate::emit`]) and those that must know them earlier ([`crate::resolve`]
//! refuses a project migration named like a generated one; the parse cache
//! keys its entries by digest). A leaf: it imports no stage.

use sha2::{Digest, Sha256};

/// The generated repeatable migration of a model or seed at `level` of the
/// graph: Flyway runs repeatables by description, so the level first.
pub fn repeatable_script(level: usize, name: &str) -> String {
    fit_path(format!("R__{level:03}_{name}.sql"))
}

/// The longest file name (one path component, in bytes) an artifact gets.
/// File systems allow 255; the margin leaves room for the suffix of a
/// temporary file written beside it and for a tool's own backup suffix.
const MAX_FILE_NAME: usize = 200;

/// `path` with its last component shortened to [`MAX_FILE_NAME`] bytes
/// when it is longer: the start of the name (cut on a character boundary),
/// `~`, 16 hex digits of the SHA-256 of the whole name, and the name's
/// last extension. The same name always gives the same result, and two
/// long names that start alike still differ. Every artifact file name a
/// compile makes goes through here.
///
/// A generated path is `<folder>/<name>`: a `/`, `\\` or control character
/// in the name (from a source or test name in a schema file) becomes `_`,
/// so that no name can put an artifact outside its folder.
pub fn fit_path(path: String) -> String {
    let name_start = path.find('/').map_or(0, |i| i + 1);
    let path = if path[name_start..]
        .chars()
        .any(|c| c == '/' || c == '\\' || c.is_control())
    {
        let name: String = path[name_start..]
            .chars()
            .map(|c| {
                if c == '/' || c == '\\' || c.is_control() {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        format!("{}{name}", &path[..name_start])
    } else {
        path
    };
    let name = &path[name_start..];
    if name.len() <= MAX_FILE_NAME {
        return path;
    }
    let extension = name.rfind('.').map_or("", |i| &name[i..]);
    let hash = &sha256_hex(name)[..16];
    let mut keep = MAX_FILE_NAME - extension.len() - hash.len() - 1;
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}{}~{hash}{extension}", &path[..name_start], &name[..keep])
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

    #[test]
    fn long_file_names_are_shortened_deterministically() {
        assert_eq!(fit_path("run/001_a.sql".into()), "run/001_a.sql");
        let long = format!("run/001_{}.test.{}.sql", "m".repeat(150), "é".repeat(100));
        let short = fit_path(long.clone());
        let name = short.rsplit('/').next().unwrap();
        assert!(name.len() <= MAX_FILE_NAME, "{}", name.len());
        assert!(
            short.starts_with("run/001_mmm") && short.ends_with(".sql"),
            "{short}"
        );
        assert_eq!(short, fit_path(long.clone()));
        assert_ne!(short, fit_path(long.replace(".sql", "x.sql")));
        assert!(crate::emit::is_generated_name(&short), "{short}");
        let script = repeatable_script(3, &"n".repeat(300));
        assert!(
            script.len() <= MAX_FILE_NAME && script.starts_with("R__003_n"),
            "{script}"
        );
        assert!(crate::project::parse_migration_name(&script).is_ok());
        assert_eq!(
            fit_path("run/000_raw.a/../../x\n.test.t.sql".into()),
            "run/000_raw.a_.._.._x_.test.t.sql"
        );
        assert_eq!(repeatable_script(0, "a\\b"), "R__000_a_b.sql");
    }

    #[test]
    fn repeatables_sort_by_level() {
        assert_eq!(repeatable_script(2, "fact_sales"), "R__002_fact_sales.sql");
        assert!(repeatable_script(9, "z") < repeatable_script(10, "a"));
    }
}
