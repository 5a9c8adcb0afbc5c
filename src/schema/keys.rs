//! The key check's view of a schema file, recorded while serde reads the
//! typed entries: parsing the YAML a second time only for the keys and
//! their places cost as much as the first parse (about 0.4 s of CPU at
//! 10,000 models).
//!
//! [`Keyed`] wraps the YAML deserializer so that every mapping and sequence
//! the typed structs meet is also noted, with each key's span, as a
//! [`Node`]. Values the structs skip are read through as well (skipping
//! would hide keys the check must see under a known key).

use std::cell::RefCell;
use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    Visitor,
};
use serde::Deserialize;
use serde_saphyr::Spanned;

/// A YAML document reduced to its keys and where each sits.
pub(super) enum Node {
    Map(Vec<(Spanned<String>, Node)>),
    Seq(Vec<Node>),
    Scalar,
}

/// `T` read from the document, and the document's keys.
pub(super) struct Keyed<T>(pub T, pub Node);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Keyed<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Keyed<T>, D::Error> {
        let tree = RefCell::new(Tree::default());
        let value = T::deserialize(Rec { de: d, tree: &tree })?;
        let node = tree.into_inner().done.unwrap_or(Node::Scalar);
        Ok(Keyed(value, node))
    }
}

/// A mapping key of any scalar type, as text (`1:` and `true:` are keys too).
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<KeyText, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        Ok(KeyText(match value {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        }))
    }
}

enum Open {
    /// The entries so far, and the key whose value is being read.
    Map(Vec<(Spanned<String>, Node)>, Option<Spanned<String>>),
    Seq(Vec<Node>),
}

#[derive(Default)]
struct Tree {
    open: Vec<Open>,
    done: Option<Node>,
}

impl Tree {
    fn add(&mut self, node: Node) {
        match self.open.last_mut() {
            Some(Open::Map(entries, key)) => {
                if let Some(key) = key.take() {
                    entries.push((key, node));
                }
            }
            Some(Open::Seq(items)) => items.push(node),
            None => self.done = Some(node),
        }
    }

    fn key(&mut self, key: Spanned<String>) {
        if let Some(Open::Map(entries, pending)) = self.open.last_mut() {
            // A value read without a visitor (none of serde's paths here, but
            // cheap to allow) still leaves its key to check.
            if let Some(before) = pending.replace(key) {
                entries.push((before, Node::Scalar));
            }
        }
    }

    fn close(&mut self) {
        let node = match self.open.pop() {
            Some(Open::Map(mut entries, pending)) => {
                entries.extend(pending.map(|key| (key, Node::Scalar)));
                Node::Map(entries)
            }
            Some(Open::Seq(items)) => Node::Seq(items),
            None => return,
        };
        self.add(node);
    }
}

/// The name serde-saphyr's `Spanned<T>` asks for; its value arrives as a
/// mapping of four fixed entries that are not the user's.
const SPANNED: &str = "__yaml_spanned";
/// The position of the user's value among those four entries (marker,
/// `value`, `referenced`, `defined`).
const SPANNED_VALUE: usize = 1;

struct Rec<'t, D> {
    de: D,
    tree: &'t RefCell<Tree>,
}

struct RecV<'t, V> {
    v: V,
    tree: &'t RefCell<Tree>,
}

impl<'t, V> RecV<'t, V> {
    fn scalar(&self) {
        self.tree.borrow_mut().add(Node::Scalar);
    }
}

macro_rules! forward {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.de.$method(RecV { v: visitor, tree: self.tree })
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Rec<'_, D> {
    type Error = D::Error;

    forward! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier
    }

    /// Read through rather than skipped: a key the structs do not use may
    /// still hold keys the check knows.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_any(RecV {
            v: visitor,
            tree: self.tree,
        })
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let v = RecV {
            v: visitor,
            tree: self.tree,
        };
        self.de.deserialize_unit_struct(name, v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        if name == SPANNED {
            let v = SpannedV {
                v: visitor,
                tree: self.tree,
            };
            return self.de.deserialize_newtype_struct(name, v);
        }
        let v = RecV {
            v: visitor,
            tree: self.tree,
        };
        self.de.deserialize_newtype_struct(name, v)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let v = RecV {
            v: visitor,
            tree: self.tree,
        };
        self.de.deserialize_tuple(len, v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let v = RecV {
            v: visitor,
            tree: self.tree,
        };
        self.de.deserialize_tuple_struct(name, len, v)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let v = RecV {
            v: visitor,
            tree: self.tree,
        };
        self.de.deserialize_struct(name, fields, v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let v = RecV {
            v: visitor,
            tree: self.tree,
        };
        self.de.deserialize_enum(name, variants, v)
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

macro_rules! scalar {
    ($($method:ident($ty:ty))*) => {$(
        fn $method<E: de::Error>(self, value: $ty) -> Result<V::Value, E> {
            self.scalar();
            self.v.$method(value)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for RecV<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.v.expecting(f)
    }

    scalar! {
        visit_bool(bool) visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64)
        visit_i128(i128) visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64)
        visit_u128(u128) visit_f32(f32) visit_f64(f64) visit_char(char) visit_str(&str)
        visit_borrowed_str(&'de str) visit_string(String) visit_bytes(&[u8])
        visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.scalar();
        self.v.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.scalar();
        self.v.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.v.visit_some(Rec {
            de: d,
            tree: self.tree,
        })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.v.visit_newtype_struct(Rec {
            de: d,
            tree: self.tree,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.tree.borrow_mut().open.push(Open::Seq(Vec::new()));
        let result = self.v.visit_seq(RecSeq {
            seq,
            tree: self.tree,
        });
        self.tree.borrow_mut().close();
        result
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.tree
            .borrow_mut()
            .open
            .push(Open::Map(Vec::new(), None));
        let result = self.v.visit_map(RecMap {
            map,
            tree: self.tree,
        });
        self.tree.borrow_mut().close();
        result
    }

    /// Enums hold no keys the check looks at.
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.scalar();
        self.v.visit_enum(data)
    }
}

struct RecSeed<'t, S> {
    seed: S,
    tree: &'t RefCell<Tree>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for RecSeed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(Rec {
            de: d,
            tree: self.tree,
        })
    }
}

struct RecSeq<'t, A> {
    seq: A,
    tree: &'t RefCell<Tree>,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for RecSeq<'_, A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        self.seq.next_element_seed(RecSeed {
            seed,
            tree: self.tree,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.seq.size_hint()
    }
}

struct RecMap<'t, A> {
    map: A,
    tree: &'t RefCell<Tree>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for RecMap<'_, A> {
    type Error = A::Error;

    /// Reads the key with its span for the check, then hands its text to
    /// the struct's own key seed.
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let Some(key) = self.map.next_key::<Spanned<KeyText>>()? else {
            return Ok(None);
        };
        let text = key.value.0;
        self.tree
            .borrow_mut()
            .key(Spanned::new(text.clone(), key.referenced, key.defined));
        let text: de::value::StringDeserializer<A::Error> = text.into_deserializer();
        seed.deserialize(text).map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.map.next_value_seed(RecSeed {
            seed,
            tree: self.tree,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// `Spanned<T>`'s visitor: the deserializer it is given yields the
/// four-entry mapping, which is passed through unrecorded apart from the
/// user's value in it.
struct SpannedV<'t, V> {
    v: V,
    tree: &'t RefCell<Tree>,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for SpannedV<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.v.expecting(f)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.v.visit_newtype_struct(SpannedDe {
            de: d,
            tree: self.tree,
        })
    }
}

struct SpannedDe<'t, D> {
    de: D,
    tree: &'t RefCell<Tree>,
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for SpannedDe<'_, D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_any(SpannedMapV {
            v: visitor,
            tree: self.tree,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct SpannedMapV<'t, V> {
    v: V,
    tree: &'t RefCell<Tree>,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for SpannedMapV<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.v.expecting(f)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.v.visit_map(SpannedMap {
            map,
            tree: self.tree,
            entry: 0,
        })
    }
}

struct SpannedMap<'t, A> {
    map: A,
    tree: &'t RefCell<Tree>,
    /// Entries read so far.
    entry: usize,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for SpannedMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.map.next_key_seed(seed)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        let entry = self.entry;
        self.entry += 1;
        if entry == SPANNED_VALUE {
            self.map.next_value_seed(RecSeed {
                seed,
                tree: self.tree,
            })
        } else {
            self.map.next_value_seed(seed)
        }
    }
}
