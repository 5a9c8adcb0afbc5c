//! What the column pass learned from earlier compiles, so that a model
//! whose SQL has not changed is not parsed and analysed again: in a
//! compile with one model changed, the column pass was a third of the
//! instructions.
//!
//! An entry is keyed by a SHA-256 of what the analysis reads of the model
//! itself (its rendered SQL, full and incremental, and its relation, which
//! `{{ this }}` names) and holds the analysis (the output columns, the
//! problems of each query) with every catalog lookup it made and what the
//! catalog answered. A hit is used only when the current catalog answers
//! each of those lookups the same: the analysis reads nothing else, so it
//! would make the same lookups and come to the same result. A model whose
//! upstream gained, lost or retyped a column, or whose source's migration
//! changed, is analysed again, and so is everything downstream whose
//! columns change in turn. Diagnostics are made from the cached problems
//! with the model's current source map, as from fresh ones.
//!
//! The file is `DIR/.stackc-cache/columns.bin` (see
//! [`crate::render::cache_file`]), rewritten after a compile that analysed
//! something or left entries unused.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::query::{At, Col, Kind, Lineage, Problem, ProblemKind, RelKey};
use super::types::Ty;
use crate::catalog::{Catalog, Entry};
use crate::render::cache_file::{part, Key, Reader, Store, Writer};

const FILE: &str = "columns.bin";

/// Raised whenever the analysis of the same SQL and catalog gives another
/// result (a new type rule, another problem), so that an older cache is
/// not used.
const COLUMN_RULES: u32 = 1;

/// What the analysis of one model found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Whether its full query parsed as one query (else nothing is known).
    pub parsed: bool,
    /// Its output columns, when all are known.
    pub columns: Option<Vec<Col>>,
    /// The problems of its full query.
    pub full: Vec<Problem>,
    /// The problems of its incremental query, when it has one that parsed.
    pub incremental: Vec<Problem>,
}

/// A relation as the analysis saw it: `None` when the catalog did not
/// know it, else whether it is open and its columns with their types.
type Seen = Option<(bool, Vec<(String, Option<String>)>)>;

/// The catalog lookups of one analysis, each relation once.
#[derive(Debug, Default)]
pub struct Lookups(RefCell<BTreeMap<RelKey, Seen>>);

impl Lookups {
    /// Records that `schema.name` was looked up and found as `entry`.
    pub fn record(&self, schema: &str, name: &str, entry: Option<&Entry>) {
        let mut seen = self.0.borrow_mut();
        if seen.contains_key(&(schema.to_string(), name.to_string())) {
            return;
        }
        let value = entry.map(|e| {
            (
                !e.origin.is_complete(),
                e.columns
                    .iter()
                    .map(|c| (c.name.clone(), c.data_type.clone()))
                    .collect(),
            )
        });
        seen.insert((schema.to_string(), name.to_string()), value);
    }
}

/// Whether the catalog answers `schema.name` as it was `seen`.
fn same(seen: &Seen, now: Option<&Entry>) -> bool {
    match (seen, now) {
        (None, None) => true,
        (Some((open, cols)), Some(e)) => {
            *open != e.origin.is_complete()
                && cols.len() == e.columns.len()
                && cols
                    .iter()
                    .zip(&e.columns)
                    .all(|((n, t), c)| *n == c.name && *t == c.data_type)
        }
        _ => false,
    }
}

#[derive(Debug, Default)]
pub struct ColumnCache {
    store: Store,
}

impl ColumnCache {
    /// The cache of the project in `dir`; empty when there is none or it
    /// cannot be used.
    pub fn load(dir: &Path) -> ColumnCache {
        ColumnCache {
            store: Store::load(dir, FILE, "columns", COLUMN_RULES),
        }
    }

    /// Writes the entries this compile used to `dir`.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        self.store.save(dir)
    }

    /// `analyze(lookups)`, answered from the cache when the same model
    /// was analysed before against a catalog that answers its lookups as
    /// `catalog` does now.
    pub fn analyze(
        &self,
        key: Key,
        catalog: &Catalog,
        analyze: impl FnOnce(&Lookups) -> Outcome,
    ) -> Outcome {
        if !self.store.enabled() {
            return analyze(&Lookups::default());
        }
        if let Some(outcome) = self.hit(&key, catalog) {
            self.store.keep(&key);
            return outcome;
        }
        let lookups = Lookups::default();
        let outcome = analyze(&lookups);
        self.store
            .put(key, encode(&lookups.0.into_inner(), &outcome));
        outcome
    }

    fn hit(&self, key: &Key, catalog: &Catalog) -> Option<Outcome> {
        let (seen, outcome) = decode(self.store.get(key)?)?;
        seen.iter()
            .all(|((schema, name), seen)| same(seen, catalog.columns(schema, name)))
            .then_some(outcome)
    }
}

/// The key of a model's analysis: its SQL and its relation's catalog key.
pub fn key(full: &str, incremental: Option<&str>, relation: &RelKey) -> Key {
    let mut h = Sha256::new();
    part(&mut h, &COLUMN_RULES.to_le_bytes());
    part(&mut h, full.as_bytes());
    match incremental {
        Some(sql) => {
            part(&mut h, b"incremental");
            part(&mut h, sql.as_bytes());
        }
        None => part(&mut h, b""),
    }
    part(&mut h, relation.0.as_bytes());
    part(&mut h, relation.1.as_bytes());
    h.finalize().into()
}

fn encode(seen: &BTreeMap<RelKey, Seen>, o: &Outcome) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(1024));
    w.len(seen.len());
    for ((schema, name), seen) in seen {
        w.str(schema);
        w.str(name);
        match seen {
            None => w.byte(0),
            Some((open, cols)) => {
                w.byte(1);
                w.byte(u8::from(*open));
                w.len(cols.len());
                for (name, ty) in cols {
                    w.str(name);
                    w.opt_str(ty.as_deref());
                }
            }
        }
    }
    w.byte(u8::from(o.parsed));
    match &o.columns {
        None => w.byte(0),
        Some(cols) => {
            w.byte(1);
            w.len(cols.len());
            for c in cols {
                col(&mut w, c);
            }
        }
    }
    for problems in [&o.full, &o.incremental] {
        w.len(problems.len());
        for p in problems {
            problem(&mut w, p);
        }
    }
    w.0
}

fn col(w: &mut Writer, c: &Col) {
    w.str(&c.name);
    match &c.ty {
        Ty::Known(t) => {
            w.byte(0);
            w.str(t);
        }
        Ty::Literal => w.byte(1),
        Ty::Unknown => w.byte(2),
    }
    w.len(c.lineage.len());
    for (((schema, name), column), kind) in &c.lineage {
        w.str(schema);
        w.str(name);
        w.str(column);
        w.byte(match kind {
            Kind::Copy => 0,
            Kind::Transform => 1,
            Kind::Filter => 2,
        });
    }
}

/// The `&'static str`s of problems, written as text and read back only as
/// one of these: an unknown one is a miss, never another text.
const CONSTRUCTS: &[&str] = &["CASE", "VALUES", "COALESCE", "GREATEST", "LEAST"];
const CLAUSES: &[&str] = &["group by", "order by"];

fn known(list: &[&'static str], text: &str) -> Option<&'static str> {
    list.iter().copied().find(|k| *k == text)
}

fn problem(w: &mut Writer, p: &Problem) {
    for n in [p.start.0, p.start.1, p.end.0, p.end.1] {
        w.len(n);
    }
    match p.related {
        None => w.byte(0),
        Some((a, b)) => {
            w.byte(1);
            for n in [a.0, a.1, b.0, b.1] {
                w.len(n);
            }
        }
    }
    match &p.kind {
        ProblemKind::UnknownColumn {
            name,
            searched,
            candidates,
        } => {
            w.byte(0);
            w.str(name);
            w.strs(searched.iter());
            w.strs(candidates.iter());
        }
        ProblemKind::Ambiguous { name, relations } => {
            w.byte(1);
            w.str(name);
            w.str(&relations[0]);
            w.str(&relations[1]);
        }
        ProblemKind::SetArity { left, right } => {
            w.byte(2);
            w.len(*left);
            w.len(*right);
        }
        ProblemKind::SetTypes {
            column,
            left,
            right,
        } => {
            w.byte(3);
            w.len(*column);
            w.str(left);
            w.str(right);
        }
        ProblemKind::Position { n, count, clause } => {
            w.byte(4);
            w.str(n);
            w.len(*count);
            w.str(clause);
        }
        ProblemKind::Natural { joined } => {
            w.byte(5);
            match joined {
                None => w.byte(0),
                Some(cols) => {
                    w.byte(1);
                    w.strs(cols.iter());
                }
            }
        }
        ProblemKind::ValuesArity { row, len, first } => {
            w.byte(6);
            w.len(*row);
            w.len(*len);
            w.len(*first);
        }
        ProblemKind::Types {
            construct,
            first,
            other,
        } => {
            w.byte(7);
            w.str(construct);
            w.str(first);
            w.str(other);
        }
        ProblemKind::Literal { text, ty } => {
            w.byte(8);
            w.str(text);
            w.str(ty);
        }
        ProblemKind::Duplicate { name } => {
            w.byte(9);
            w.str(name);
        }
        ProblemKind::UsingTypes { name, left, right } => {
            w.byte(10);
            w.str(name);
            w.str(left);
            w.str(right);
        }
    }
}

type Decoded = (BTreeMap<RelKey, Seen>, Outcome);

fn decode(bytes: &[u8]) -> Option<Decoded> {
    let mut r = Reader::new(bytes);
    let mut seen = BTreeMap::new();
    for _ in 0..r.count(3)? {
        let key = (r.str()?, r.str()?);
        let value = match r.byte()? {
            0 => None,
            1 => {
                let open = r.byte()? != 0;
                let mut cols = Vec::new();
                for _ in 0..r.count(2)? {
                    cols.push((r.str()?, r.opt_str()?));
                }
                Some((open, cols))
            }
            _ => return None,
        };
        seen.insert(key, value);
    }
    let parsed = r.byte()? != 0;
    let columns = match r.byte()? {
        0 => None,
        1 => {
            let mut cols = Vec::new();
            for _ in 0..r.count(3)? {
                cols.push(read_col(&mut r)?);
            }
            Some(cols)
        }
        _ => return None,
    };
    let mut lists = [Vec::new(), Vec::new()];
    for list in &mut lists {
        for _ in 0..r.count(5)? {
            list.push(read_problem(&mut r)?);
        }
    }
    let [full, incremental] = lists;
    r.done().then_some(())?;
    Some((
        seen,
        Outcome {
            parsed,
            columns,
            full,
            incremental,
        },
    ))
}

fn read_col(r: &mut Reader) -> Option<Col> {
    let name = r.str()?;
    let ty = match r.byte()? {
        0 => Ty::Known(r.str()?),
        1 => Ty::Literal,
        2 => Ty::Unknown,
        _ => return None,
    };
    let mut lineage = Lineage::new();
    for _ in 0..r.count(4)? {
        let key = ((r.str()?, r.str()?), r.str()?);
        let kind = match r.byte()? {
            0 => Kind::Copy,
            1 => Kind::Transform,
            2 => Kind::Filter,
            _ => return None,
        };
        lineage.insert(key, kind);
    }
    Some(Col { name, ty, lineage })
}

fn read_problem(r: &mut Reader) -> Option<Problem> {
    let at = |r: &mut Reader| -> Option<At> { Some((r.len()?, r.len()?)) };
    let (start, end) = (at(r)?, at(r)?);
    let related = match r.byte()? {
        0 => None,
        1 => Some((at(r)?, at(r)?)),
        _ => return None,
    };
    let kind = match r.byte()? {
        0 => ProblemKind::UnknownColumn {
            name: r.str()?,
            searched: r.strs()?,
            candidates: r.strs()?,
        },
        1 => ProblemKind::Ambiguous {
            name: r.str()?,
            relations: [r.str()?, r.str()?],
        },
        2 => ProblemKind::SetArity {
            left: r.len()?,
            right: r.len()?,
        },
        3 => ProblemKind::SetTypes {
            column: r.len()?,
            left: r.str()?,
            right: r.str()?,
        },
        4 => ProblemKind::Position {
            n: r.str()?,
            count: r.len()?,
            clause: known(CLAUSES, &r.str()?)?,
        },
        5 => ProblemKind::Natural {
            joined: match r.byte()? {
                0 => None,
                _ => Some(r.strs()?),
            },
        },
        6 => ProblemKind::ValuesArity {
            row: r.len()?,
            len: r.len()?,
            first: r.len()?,
        },
        7 => ProblemKind::Types {
            construct: known(CONSTRUCTS, &r.str()?)?,
            first: r.str()?,
            other: r.str()?,
        },
        8 => ProblemKind::Literal {
            text: r.str()?,
            ty: r.str()?,
        },
        9 => ProblemKind::Duplicate { name: r.str()? },
        10 => ProblemKind::UsingTypes {
            name: r.str()?,
            left: r.str()?,
            right: r.str()?,
        },
        _ => return None,
    };
    Some(Problem {
        kind,
        start,
        end,
        related,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{CatalogColumn, Origin};

    fn problems() -> Vec<Problem> {
        let kinds = vec![
            ProblemKind::UnknownColumn {
                name: "x".into(),
                searched: vec!["a".into()],
                candidates: vec!["y".into(), "z".into()],
            },
            ProblemKind::Ambiguous {
                name: "id".into(),
                relations: ["a".into(), "b".into()],
            },
            ProblemKind::SetArity { left: 2, right: 3 },
            ProblemKind::SetTypes {
                column: 1,
                left: "integer".into(),
                right: "text".into(),
            },
            ProblemKind::Position {
                n: "3".into(),
                count: 2,
                clause: "group by",
            },
            ProblemKind::Position {
                n: "4".into(),
                count: 2,
                clause: "order by",
            },
            ProblemKind::Natural { joined: None },
            ProblemKind::Natural {
                joined: Some(vec!["id".into()]),
            },
            ProblemKind::ValuesArity {
                row: 2,
                len: 3,
                first: 2,
            },
            ProblemKind::Types {
                construct: "COALESCE",
                first: "integer".into(),
                other: "date".into(),
            },
            ProblemKind::Literal {
                text: "x".into(),
                ty: "integer".into(),
            },
            ProblemKind::Duplicate { name: "id".into() },
            ProblemKind::UsingTypes {
                name: "id".into(),
                left: "integer".into(),
                right: "text".into(),
            },
        ];
        kinds
            .into_iter()
            .enumerate()
            .map(|(i, kind)| Problem {
                kind,
                start: (i + 1, 2),
                end: (i + 1, 9),
                related: (i % 2 == 0).then_some(((1, 1), (1, 4))),
            })
            .collect()
    }

    fn catalog(ty: &str) -> Catalog {
        let mut c = Catalog::default();
        c.insert(
            "raw",
            "t",
            Origin::Migration,
            vec![CatalogColumn {
                name: "id".into(),
                data_type: Some(ty.into()),
            }],
        );
        c
    }

    #[test]
    fn an_entry_comes_back_while_the_catalog_answers_the_same() {
        let outcome = Outcome {
            parsed: true,
            columns: Some(vec![
                Col {
                    name: "id".into(),
                    ty: Ty::known("integer"),
                    lineage: Lineage::from([
                        ((("raw".into(), "t".into()), "id".into()), Kind::Copy),
                        ((("raw".into(), "t".into()), "x".into()), Kind::Filter),
                    ]),
                },
                Col {
                    name: "l".into(),
                    ty: Ty::Literal,
                    lineage: Lineage::new(),
                },
                Col {
                    name: "u".into(),
                    ty: Ty::Unknown,
                    lineage: Lineage::new(),
                },
            ]),
            full: problems(),
            incremental: problems()[..2].to_vec(),
        };
        let dir = tempfile::tempdir().unwrap();
        let key = key("select id from raw.t", None, &("s".into(), "m".into()));
        let before = catalog("integer");
        let cache = ColumnCache::load(dir.path());
        let fresh = cache.analyze(key, &before, |lookups| {
            lookups.record("raw", "t", before.columns("raw", "t"));
            lookups.record("raw", "missing", None);
            outcome.clone()
        });
        assert_eq!(fresh, outcome);
        cache.save(dir.path()).unwrap();

        let cache = ColumnCache::load(dir.path());
        let cached = cache.analyze(key, &before, |_| panic!("analysed again"));
        assert_eq!(cached, outcome);
        // Another type upstream, or a relation that now exists: analysed again.
        let mut analysed = false;
        cache.analyze(key, &catalog("bigint"), |_| {
            analysed = true;
            Outcome::default()
        });
        assert!(analysed);
        let mut grown = catalog("integer");
        grown.insert("raw", "missing", Origin::Source, Vec::new());
        let mut analysed = false;
        cache.analyze(key, &grown, |_| {
            analysed = true;
            Outcome::default()
        });
        assert!(analysed);
    }

    #[test]
    fn every_input_of_the_key_counts() {
        let rel: RelKey = ("s".into(), "m".into());
        let k = key("select 1", None, &rel);
        for other in [
            key("select 2", None, &rel),
            key("select 1", Some("select 1"), &rel),
            key("select 1", Some(""), &rel),
            key("select 1", None, &("s".into(), "n".into())),
            key("select 1", None, &(String::new(), "m".into())),
        ] {
            assert_ne!(other, k);
        }
    }
}
