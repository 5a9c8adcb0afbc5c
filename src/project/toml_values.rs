//! The values of `stackc.toml` that serde reads with types of stackc's own:
//! the folder tables of `[models]` (configs and deeper folders, each key with
//! its place) and the JSON value of a config or var.

use serde::Deserialize;
use toml::Spanned;

use super::settings::FOLDER_CONFIG_KEYS;

/// `[models]` and each folder table under it, in the order written.
#[derive(Default)]
pub(super) struct Folder(pub(super) Vec<(Spanned<String>, FolderEntry)>);

pub(super) enum FolderEntry {
    /// A config key (`materialized`, `schema`, ...), with its value.
    Config(Spanned<Json>),
    /// Any other table: a deeper folder.
    Folder(Folder),
    /// Any other key: not a config, not a table.
    Unknown,
}

impl<'de> Deserialize<'de> for Folder {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(FolderVisitor)
    }
}

struct FolderVisitor;

impl<'de> serde::de::Visitor<'de> for FolderVisitor {
    type Value = Folder;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a table of configs and folders")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Folder, A::Error> {
        let first = map.next_key::<Spanned<String>>()?;
        folder_entries(map, first)
    }
}

/// The entries of a folder table, from its first key on.
fn folder_entries<'de, A: serde::de::MapAccess<'de>>(
    mut map: A,
    first: Option<Spanned<String>>,
) -> Result<Folder, A::Error> {
    let mut entries = Vec::new();
    let mut next = first;
    while let Some(key) = next {
        let entry = if FOLDER_CONFIG_KEYS.contains(&key.get_ref().as_str()) {
            FolderEntry::Config(map.next_value()?)
        } else {
            map.next_value::<NotConfig>()?.0
        };
        entries.push((key, entry));
        next = map.next_key()?;
    }
    Ok(Folder(entries))
}

/// The value of a key that is not a config: a folder when it is a table.
struct NotConfig(FolderEntry);

impl<'de> Deserialize<'de> for NotConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NotConfigVisitor)
    }
}

struct NotConfigVisitor;

impl<'de> serde::de::Visitor<'de> for NotConfigVisitor {
    type Value = NotConfig;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a folder table or a value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<NotConfig, A::Error> {
        // A date or time reaches serde as a table of toml's own, whose key
        // has no place in the file: a value, not a folder.
        let Ok(first) = map.next_key::<Spanned<String>>() else {
            return Ok(NotConfig(FolderEntry::Unknown));
        };
        Ok(NotConfig(FolderEntry::Folder(folder_entries(map, first)?)))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<NotConfig, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(NotConfig(FolderEntry::Unknown))
    }

    fn visit_bool<E>(self, _: bool) -> Result<NotConfig, E> {
        Ok(NotConfig(FolderEntry::Unknown))
    }

    fn visit_i64<E>(self, _: i64) -> Result<NotConfig, E> {
        Ok(NotConfig(FolderEntry::Unknown))
    }

    fn visit_u64<E>(self, _: u64) -> Result<NotConfig, E> {
        Ok(NotConfig(FolderEntry::Unknown))
    }

    fn visit_f64<E>(self, _: f64) -> Result<NotConfig, E> {
        Ok(NotConfig(FolderEntry::Unknown))
    }

    fn visit_str<E>(self, _: &str) -> Result<NotConfig, E> {
        Ok(NotConfig(FolderEntry::Unknown))
    }
}

/// A TOML value as the JSON value a config or var holds: a date or time
/// as its text, and a number outside TOML's (beyond a signed 64-bit
/// integer, `nan`, `inf`) as text too.
pub(super) struct Json(pub(super) serde_json::Value);

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor).map(Json)
    }
}

struct JsonVisitor;

/// The one key of the table toml hands serde for a date or time.
const TOML_DATETIME: &str = "$__toml_private_datetime";

impl<'de> serde::de::Visitor<'de> for JsonVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a TOML value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
        Ok(b.into())
    }

    fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
        Ok(n.into())
    }

    fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
        // TOML's integers are 64-bit signed: a larger one stays its text.
        Ok(match i64::try_from(n) {
            Ok(n) => n.into(),
            Err(_) => n.to_string().into(),
        })
    }

    fn visit_i128<E>(self, n: i128) -> Result<Self::Value, E> {
        Ok(n.to_string().into())
    }

    fn visit_u128<E>(self, n: u128) -> Result<Self::Value, E> {
        Ok(n.to_string().into())
    }

    fn visit_f64<E>(self, f: f64) -> Result<Self::Value, E> {
        Ok(match serde_json::Number::from_f64(f) {
            Some(n) => n.into(),
            None if f.is_nan() => "nan".into(),
            None if f > 0.0 => "inf".into(),
            None => "-inf".into(),
        })
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(s.into())
    }

    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(s.into())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Json(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(items.into())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Json(value) = map.next_value()?;
            if key == TOML_DATETIME && out.is_empty() {
                return Ok(value);
            }
            out.insert(key, value);
        }
        Ok(out.into())
    }
}
