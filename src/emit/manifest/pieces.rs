//! The writer of `manifest.json`: pretty JSON in pieces, made in parallel
//! batches as they are read.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;

use super::Text;
use crate::manifest::Manifest;

/// The entries of a map, in order, for [`ObjectPieces`].
fn entries<'a, V>(map: &'a BTreeMap<Text<'_>, V>) -> Vec<(&'a str, &'a V)> {
    map.iter().map(|(k, v)| (k.as_ref(), v)).collect()
}

/// Pretty JSON, byte for byte what `serde_json::to_string_pretty` would
/// write (and a newline), as pieces that make the file in order. The pieces
/// are made as they are read, and nodes and files in parallel batches, so
/// the whole document (tens of MB at 10,000 models) is never in memory at
/// once.
pub(super) fn pieces<'a>(m: &'a Manifest<Text<'a>>) -> impl Iterator<Item = Vec<u8>> + 'a {
    // The large lists are made up front, side by side.
    let (migrations, run_order) =
        rayon::join(|| pretty(&m.migrations, 1), || pretty(&m.run_order, 1));
    let (child_map, (files, (nodes, parent_map))) = rayon::join(
        || entries(&m.child_map),
        || {
            rayon::join(
                || entries(&m.files),
                || rayon::join(|| entries(&m.nodes), || entries(&m.parent_map)),
            )
        },
    );
    let mut fields: Vec<(&str, Pieces<'a>)> = vec![
        ("child_map", Box::new(ObjectPieces::new(child_map, 1))),
        ("files", Box::new(ObjectPieces::new(files, 1))),
        ("metadata", lazy(move || pretty(&m.metadata, 1))),
        ("migrations", Box::new(std::iter::once(migrations))),
        ("nodes", Box::new(ObjectPieces::new(nodes, 1))),
        ("parent_map", Box::new(ObjectPieces::new(parent_map, 1))),
        ("run_order", Box::new(std::iter::once(run_order))),
        ("sources", lazy(move || pretty(&m.sources, 1))),
        ("unit_tests", lazy(move || pretty(&m.unit_tests, 1))),
    ];
    for (key, map) in [
        ("exposures", &m.exposures),
        ("groups", &m.groups),
        ("metrics", &m.metrics),
        ("saved_queries", &m.saved_queries),
        ("semantic_models", &m.semantic_models),
    ] {
        if !map.is_empty() {
            fields.push((key, lazy(move || pretty(map, 1))));
        }
    }
    // Keys in alphabetical order, as serde writes the shared type.
    fields.sort_by(|a, b| a.0.cmp(b.0));
    fields
        .into_iter()
        .enumerate()
        .flat_map(|(i, (key, value))| {
            let separator = if i == 0 { "{\n  \"" } else { ",\n  \"" };
            std::iter::once(format!("{separator}{key}\": ").into_bytes()).chain(value)
        })
        .chain(std::iter::once(b"\n}\n".to_vec()))
}

type Pieces<'a> = Box<dyn Iterator<Item = Vec<u8>> + 'a>;

/// One piece, made when it is read.
fn lazy<'a>(make: impl FnOnce() -> Vec<u8> + 'a) -> Pieces<'a> {
    Box::new(std::iter::once_with(make))
}

/// A JSON object of `entries` (sorted by key, each key once) as pretty
/// JSON nested `depth` levels deep, in pieces: each batch of entries is
/// serialized in parallel when the pieces before it have been read.
pub(super) struct ObjectPieces<'a, V> {
    entries: Vec<(&'a str, V)>,
    depth: usize,
    next: usize,
    done: bool,
    ready: std::collections::VecDeque<Vec<u8>>,
}

impl<'a, V> ObjectPieces<'a, V> {
    pub(super) fn new(entries: Vec<(&'a str, V)>, depth: usize) -> Self {
        ObjectPieces {
            entries,
            depth,
            next: 0,
            done: false,
            ready: Default::default(),
        }
    }
}

/// Entries serialized by one thread at a time, and entries per batch.
pub(super) const CHUNK: usize = 256;
pub(super) const BATCH: usize = CHUNK * 16;

impl<V: Serialize + Sync> Iterator for ObjectPieces<'_, V> {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        if let Some(piece) = self.ready.pop_front() {
            return Some(piece);
        }
        if self.done {
            return None;
        }
        if self.entries.is_empty() {
            self.done = true;
            return Some(b"{}".to_vec());
        }
        if self.next == self.entries.len() {
            self.done = true;
            let mut end = b"\n".to_vec();
            end.extend_from_slice("  ".repeat(self.depth).as_bytes());
            end.push(b'}');
            return Some(end);
        }
        let start = self.next;
        let batch = &self.entries[start..(start + BATCH).min(self.entries.len())];
        self.next = start + batch.len();
        let indent = "  ".repeat(self.depth + 1);
        let depth = self.depth;
        let pieces: Vec<Vec<u8>> = batch
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(n, chunk)| {
                let mut s = Vec::new();
                for (i, (key, value)) in chunk.iter().enumerate() {
                    let first = start + n * CHUNK + i == 0;
                    s.extend_from_slice(if first { b"{\n" } else { b",\n" });
                    s.extend_from_slice(indent.as_bytes());
                    write_pretty(&mut s, key, 0);
                    s.extend_from_slice(b": ");
                    write_pretty(&mut s, value, depth + 1);
                }
                s
            })
            .collect();
        self.ready.extend(pieces);
        self.ready.pop_front()
    }
}

/// `value` as pretty JSON, indented as if nested `depth` levels deep.
pub(super) fn pretty<T: Serialize + ?Sized>(value: &T, depth: usize) -> Vec<u8> {
    let mut out = Vec::new();
    write_pretty(&mut out, value, depth);
    out
}

fn write_pretty<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T, depth: usize) {
    let mut serializer = serde_json::Serializer::with_formatter(
        out,
        Nested {
            depth,
            has_value: false,
        },
    );
    // Serializing plain structs with string keys into memory cannot fail.
    let _ = value.serialize(&mut serializer);
}

/// serde_json's pretty formatter (two spaces, `": "`), starting `depth`
/// levels deep, so that pieces of one document can be written separately.
struct Nested {
    depth: usize,
    has_value: bool,
}

impl Nested {
    /// A comma if asked, a newline and the indentation, in one write: the
    /// manifest has millions of them.
    fn newline<W: ?Sized + std::io::Write>(&self, w: &mut W, comma: bool) -> std::io::Result<()> {
        const LINE: &[u8; 66] =
            b",\n                                                                ";
        let start = usize::from(!comma);
        let end = 2 + 2 * self.depth;
        match LINE.get(start..end) {
            Some(line) => w.write_all(line),
            None => {
                w.write_all(&LINE[start..2])?;
                (0..self.depth).try_for_each(|_| w.write_all(b"  "))
            }
        }
    }
}

impl serde_json::ser::Formatter for Nested {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(b"[")
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.newline(w, false)?;
        }
        w.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.newline(w, !first)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(b"{")
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.newline(w, false)?;
        }
        w.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.newline(w, !first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}
