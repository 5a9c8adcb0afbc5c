//! What rendering learned from earlier compiles, so that a model whose
//! inputs have not changed is not rendered again: at 10,000 models the two
//! render passes are a fifth of a compile whose artifacts are in place.
//!
//! It follows [`crate::parse_cache`]: entries are keyed by a SHA-256 of
//! everything a render reads, and a hit gives exactly what the render would
//! (the SQL, its source map and the recorded calls). What a render reads:
//! - the stackc binary and this file's [`RENDER_RULES`] (in the file's
//!   header: another version's cache is ignored whole);
//! - the render options, every macro file (path and text), the project's
//!   settings and its vars ([`Keys::new`]);
//! - the model's path and text, `this`, `is_incremental()`, and in the
//!   final pass every relation `ref()`/`source()` can name and the catalog
//!   ([`Keys::with_relations`]): a change of one model's schema renders
//!   every model again;
//! - the environment variables the render read through `env_var()`, whose
//!   values are stored in the entry and compared on a hit (they are not in
//!   the key: the key is made before the render knows what it reads).
//!
//! Only successful renders are kept: an error is reported from a fresh
//! render. dbt projects are not cached: their renders read dbt's `graph`
//! and `model`, and may print (`log()`, `exceptions.warn`), which a cached
//! render would not repeat.
//!
//! The file is `DIR/.stackc-cache/render.bin` (beside the parse cache), a
//! header line then `key, length, CRC-32, entry` records in a compact
//! binary form that decodes without a parser (at 10,000 models it holds
//! tens of megabytes of SQL and source maps). It is rewritten after a compile that
//! rendered something or left entries unused, with the entries that compile
//! used, and ignored when it cannot be read.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::{Calls, MapSpan, Relation, Relations, RenderOptions, Rendered};
use crate::diagnostic::Diagnostic;
use crate::project::SourceFile;

const FOLDER: &str = ".stackc-cache";
const FILE: &str = "render.bin";

/// Raised whenever a render of the same inputs gives other output (a new
/// builtin, a changed source map), so that an older cache is not used.
const RENDER_RULES: u32 = 2;

/// The first line of the file: the version, and the size and time of the
/// binary itself, so that a rebuilt stackc (whose renders may differ under
/// the same version number) reads no cache of another build. `None` when
/// the binary cannot be found: then nothing is cached.
pub(crate) fn header() -> Option<String> {
    let binary = std::env::current_exe().ok()?.metadata().ok()?;
    let built = binary
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!(
        "stackc {} render {RENDER_RULES} binary {} {}\n",
        env!("CARGO_PKG_VERSION"),
        binary.len(),
        built.as_nanos()
    ))
}

type Key = [u8; 32];

/// The keys of one compile's renders: a digest of what every render of the
/// project reads, to which each render adds its own inputs.
#[derive(Debug, Clone, Copy)]
pub struct Keys {
    base: Key,
}

impl Keys {
    /// The keys of a stackc project's renders. `settings` is the project's
    /// settings written out (`{:?}`), which holds its vars; `macros` are
    /// the macro files as the renderer compiled them.
    pub fn new(options: &RenderOptions, macros: &[SourceFile], settings: &str) -> Keys {
        let mut h = Sha256::new();
        part(&mut h, format!("{RENDER_RULES}").as_bytes());
        part(&mut h, format!("{options:?}").as_bytes());
        for file in macros {
            part(&mut h, file.path.as_bytes());
            part(&mut h, file.text.as_bytes());
        }
        part(&mut h, settings.as_bytes());
        Keys {
            base: h.finalize().into(),
        }
    }

    /// The keys of the final pass, which renders with every relation.
    pub fn with_relations(&self, relations: &Relations) -> Keys {
        let mut h = Sha256::new();
        part(&mut h, &self.base);
        part(&mut h, format!("{relations:?}").as_bytes());
        Keys {
            base: h.finalize().into(),
        }
    }

    /// The key of rendering `file` with `this` and `is_incremental()`.
    pub fn render(&self, file: &SourceFile, this: Option<&Relation>, is_incremental: bool) -> Key {
        let mut h = Sha256::new();
        part(&mut h, &self.base);
        part(&mut h, file.path.as_bytes());
        part(&mut h, file.text.as_bytes());
        part(&mut h, format!("{this:?}").as_bytes());
        part(&mut h, &[u8::from(is_incremental)]);
        h.finalize().into()
    }
}

/// One input of a key, length first, so that no two sequences of inputs
/// make the same bytes.
fn part(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

#[derive(Debug, Default)]
pub struct RenderCache {
    /// What the file must start with; `None`: no cache (see [`header`]).
    header: Option<String>,
    /// The file as read, and where each entry sits in it.
    bytes: Vec<u8>,
    earlier: HashMap<Key, std::ops::Range<usize>>,
    /// The entries this compile used (`None`: the one in `earlier`) or
    /// made (encoded), for the next compile.
    now: Mutex<Vec<(Key, Option<Vec<u8>>)>>,
}

impl RenderCache {
    /// The cache of the project in `dir`; empty when there is none or it
    /// cannot be used.
    pub fn load(dir: &Path) -> RenderCache {
        let Some(header) = header() else {
            return RenderCache::default();
        };
        let empty = RenderCache {
            header: Some(header.clone()),
            ..RenderCache::default()
        };
        let Ok(bytes) = std::fs::read(dir.join(FOLDER).join(FILE)) else {
            return empty;
        };
        let Some(earlier) = index(&bytes, &header) else {
            return empty;
        };
        RenderCache {
            header: Some(header),
            bytes,
            earlier,
            now: Mutex::default(),
        }
    }

    /// `render()`, answered from the cache when `key` was rendered before
    /// with the same environment variables. No key: no cache.
    pub fn render(
        &self,
        key: Option<Key>,
        render: impl FnOnce() -> Result<Rendered, Diagnostic>,
        file: &SourceFile,
    ) -> Result<Rendered, Diagnostic> {
        let Some(key) = key.filter(|_| self.header.is_some()) else {
            return render();
        };
        if let Some(rendered) = self.hit(&key, file) {
            return Ok(rendered);
        }
        let rendered = render()?;
        self.lock().push((key, Some(encode(&rendered))));
        Ok(rendered)
    }

    fn hit(&self, key: &Key, file: &SourceFile) -> Option<Rendered> {
        let range = self.earlier.get(key)?;
        let (crc, entry) = self.bytes[range.clone()].split_at(4);
        // A damaged entry that still decodes must not become SQL.
        if crc32fast::hash(entry).to_le_bytes() != crc {
            return None;
        }
        let rendered = decode(entry, file)?;
        let env_unchanged = rendered
            .env
            .iter()
            .all(|(name, value)| std::env::var(name).ok().as_deref() == value.as_deref());
        if !env_unchanged {
            return None;
        }
        self.lock().push((*key, None));
        Some(rendered.rendered)
    }

    /// Writes the entries this compile used to `dir`, replacing the file
    /// whole (a temporary file renamed over it), so that a concurrent
    /// compile reads either the old or the new cache. Nothing is written
    /// when the file already holds exactly those entries.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let Some(header) = &self.header else {
            return Ok(());
        };
        let mut now = std::mem::take(&mut *self.lock());
        now.sort_by_key(|(key, _)| *key);
        now.dedup_by(|a, b| a.0 == b.0);
        if now.len() == self.earlier.len() && now.iter().all(|(_, made)| made.is_none()) {
            return Ok(());
        }
        let mut out = header.clone().into_bytes();
        for (key, made) in &now {
            match made {
                Some(entry) => {
                    out.extend_from_slice(key);
                    out.extend_from_slice(&(entry.len() as u64 + 4).to_le_bytes());
                    out.extend_from_slice(&crc32fast::hash(entry).to_le_bytes());
                    out.extend_from_slice(entry);
                }
                // Checked when it was read: copied as it is.
                None => {
                    let Some(range) = self.earlier.get(key).cloned() else {
                        continue;
                    };
                    out.extend_from_slice(key);
                    out.extend_from_slice(&(range.len() as u64).to_le_bytes());
                    out.extend_from_slice(&self.bytes[range]);
                }
            }
        }
        write_cache_file(dir, FILE, &out)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Key, Option<Vec<u8>>)>> {
        // A panic while holding this lock aborts the compile anyway.
        self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Writes `DIR/.stackc-cache/<name>` whole (a temporary file renamed over
/// it), beside a `.gitignore` that keeps the folder out of version control.
pub(crate) fn write_cache_file(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let folder = dir.join(FOLDER);
    std::fs::create_dir_all(&folder)?;
    let ignore = folder.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(
            &ignore,
            "# Written by stackc: a cache, safe to delete, never to commit.\n*\n",
        )?;
    }
    let temporary = folder.join(format!("{name}.{}.partial", std::process::id()));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, folder.join(name)).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}

/// Where each entry of a cache file sits; `None` when the file is of
/// another version or cut short.
fn index(bytes: &[u8], header: &str) -> Option<HashMap<Key, std::ops::Range<usize>>> {
    let mut at = header.len();
    if bytes.get(..at)? != header.as_bytes() {
        return None;
    }
    let mut entries = HashMap::new();
    while at < bytes.len() {
        let key: Key = bytes.get(at..at + 32)?.try_into().ok()?;
        at += 32;
        let len =
            usize::try_from(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?)).ok()?;
        at += 8;
        let end = at.checked_add(len)?;
        // Each record starts with the CRC-32 of its entry.
        bytes.get(at..end).filter(|record| record.len() >= 4)?;
        entries.insert(key, at..end);
        at = end;
    }
    Some(entries)
}

/// A cached render, and the environment variables it read with their
/// values then (`None`: unset or not UTF-8, as `env_var()` sees them).
struct Cached {
    env: Vec<(String, Option<String>)>,
    rendered: Rendered,
}

fn encode(r: &Rendered) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(r.sql.len() + 40 * r.spans.len() + 256));
    w.len(r.calls.env_vars.len());
    for name in &r.calls.env_vars {
        w.str(name);
        match std::env::var(name) {
            Ok(value) => {
                w.0.push(1);
                w.str(&value);
            }
            Err(_) => w.0.push(0),
        }
    }
    w.str(&r.sql);
    w.len(r.spans.len());
    for s in &r.spans {
        for n in [s.output.start, s.output.end, s.source.start, s.source.end] {
            w.len(n);
        }
        w.0.push(u8::from(s.raw));
    }
    let c = &r.calls;
    w.strs(c.refs.iter());
    w.len(c.sources.len());
    for (source, table) in &c.sources {
        w.str(source);
        w.str(table);
    }
    w.len(c.configs.len());
    for config in &c.configs {
        // serde_json writes what it reads back.
        w.str(&serde_json::to_string(config).unwrap_or_default());
    }
    w.strs(c.vars.iter());
    w.strs(c.env_vars.iter());
    w.strs(c.macros.iter());
    w.0
}

fn decode(bytes: &[u8], file: &SourceFile) -> Option<Cached> {
    let mut r = Reader { bytes, at: 0 };
    let mut env = Vec::new();
    for _ in 0..r.len()? {
        let name = r.str()?;
        let value = match r.byte()? {
            0 => None,
            _ => Some(r.str()?),
        };
        env.push((name, value));
    }
    let sql = r.str()?;
    let mut spans = Vec::new();
    for _ in 0..r.len()? {
        let (a, b, c, d) = (r.len()?, r.len()?, r.len()?, r.len()?);
        spans.push(MapSpan {
            output: a..b,
            source: c..d,
            raw: r.byte()? != 0,
        });
    }
    let refs = r.strs()?;
    let mut sources = Vec::new();
    for _ in 0..r.len()? {
        sources.push((r.str()?, r.str()?));
    }
    let mut configs = Vec::new();
    for _ in 0..r.len()? {
        let config: BTreeMap<String, serde_json::Value> = serde_json::from_str(&r.str()?).ok()?;
        configs.push(config);
    }
    let vars: BTreeSet<String> = r.strs()?.into_iter().collect();
    let env_vars: BTreeSet<String> = r.strs()?.into_iter().collect();
    let macros: BTreeSet<String> = r.strs()?.into_iter().collect();
    (r.at == bytes.len()).then_some(())?;
    Some(Cached {
        env,
        rendered: Rendered {
            sql,
            file: std::sync::Arc::clone(&file.path),
            spans,
            calls: Calls {
                refs,
                sources,
                configs,
                vars,
                env_vars,
                macros,
            },
        },
    })
}

struct Writer(Vec<u8>);

impl Writer {
    fn len(&mut self, n: usize) {
        self.0.extend_from_slice(&(n as u64).to_le_bytes());
    }

    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }

    fn strs<'a>(&mut self, items: impl ExactSizeIterator<Item = &'a String>) {
        self.len(items.len());
        for s in items {
            self.str(s);
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.at.checked_add(n)?;
        let out = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(out)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn len(&mut self) -> Option<usize> {
        let bytes: [u8; 8] = self.take(8)?.try_into().ok()?;
        usize::try_from(u64::from_le_bytes(bytes)).ok()
    }

    fn str(&mut self) -> Option<String> {
        let n = self.len()?;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }

    fn strs(&mut self) -> Option<Vec<String>> {
        let n = self.len()?;
        // A corrupt count must not reserve memory before it is read.
        let mut out = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            out.push(self.str()?);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::render::{RenderInput, Renderer};

    fn file(path: &str, text: &str) -> SourceFile {
        SourceFile {
            path: Arc::from(path),
            text: Arc::from(text),
        }
    }

    fn render(renderer: &Renderer, f: &SourceFile) -> Result<Rendered, Diagnostic> {
        renderer.render(RenderInput {
            file: f,
            relations: &Arc::new(Relations::default()),
            vars: &Arc::new(BTreeMap::new()),
            this: None,
            is_incremental: false,
            model: None,
            graph: None,
        })
    }

    #[test]
    fn a_hit_is_the_render_itself_and_needs_no_render() {
        let mut d = Vec::new();
        let renderer = Renderer::new(&[], &mut d);
        let f = file(
            "models/a.sql",
            "{{ config(materialized='table', tags=['x']) }}\nselect {{ var('v', 1) }} as v, '{{ env_var('STACKC_CACHE_TEST_UNSET', 'd') }}' as e\nfrom {{ ref('b') }} join {{ source('s', 't') }} on true\n",
        );
        let keys = Keys::new(&RenderOptions::default(), &[], "settings");
        let key = keys.render(&f, None, false);
        let dir = tempfile::tempdir().unwrap();
        let cache = RenderCache::load(dir.path());
        let fresh = cache
            .render(Some(key), || render(&renderer, &f), &f)
            .unwrap();
        cache.save(dir.path()).unwrap();

        let cache = RenderCache::load(dir.path());
        let cached = cache
            .render(Some(key), || panic!("rendered again"), &f)
            .unwrap();
        assert_eq!(format!("{fresh:?}"), format!("{cached:?}"));
        // Every input of the key counts.
        let other_text = file("models/a.sql", "select 2");
        let other_path = file("models/b.sql", &f.text);
        for other in [
            keys.render(&other_text, None, false),
            keys.render(&other_path, None, false),
            keys.render(&f, None, true),
            keys.render(
                &f,
                Some(&Relation {
                    schema: "s".into(),
                    name: "a".into(),
                    quote: false,
                    cte: None,
                }),
                false,
            ),
            Keys::new(&RenderOptions::default(), &[], "settings 2").render(&f, None, false),
            Keys::new(
                &RenderOptions::default(),
                &[file("macros/m.sql", "")],
                "settings",
            )
            .render(&f, None, false),
            keys.with_relations(&Relations::default())
                .render(&f, None, false),
        ] {
            assert_ne!(other, key);
        }
    }

    // A changed environment variable is tested in tests/render_cache.rs,
    // where each compile is a process given its own environment: setting a
    // variable here would race with other tests' threads reading theirs
    // (OpenSSL and glibc read the environment without Rust's lock).

    #[test]
    fn a_damaged_file_is_no_cache() {
        let dir = tempfile::tempdir().unwrap();
        let f = file("models/a.sql", "select 1");
        let mut d = Vec::new();
        let renderer = Renderer::new(&[], &mut d);
        let key = Keys::new(&RenderOptions::default(), &[], "").render(&f, None, false);
        let cache = RenderCache::load(dir.path());
        cache
            .render(Some(key), || render(&renderer, &f), &f)
            .unwrap();
        cache.save(dir.path()).unwrap();
        let path = dir.path().join(FOLDER).join(FILE);
        let whole = std::fs::read(&path).unwrap();
        for cut in [whole.len() - 1, header().unwrap().len() + 10, 5] {
            std::fs::write(&path, &whole[..cut]).unwrap();
            assert!(
                RenderCache::load(dir.path()).earlier.is_empty(),
                "cut at {cut}"
            );
        }
        let mut other = whole.clone();
        other[7] ^= 1; // another version
        std::fs::write(&path, &other).unwrap();
        assert!(RenderCache::load(dir.path()).earlier.is_empty());
    }
}
