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

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::cache_file::{self, part, Key, Reader, Store, Writer};
use super::{Calls, MapSpan, Relation, Relations, RenderOptions, Rendered};
use crate::diagnostic::Diagnostic;
use crate::project::SourceFile;

const FILE: &str = "render.bin";

/// Raised whenever a render of the same inputs gives other output (a new
/// builtin, a changed source map), so that an older cache is not used.
const RENDER_RULES: u32 = 2;

/// The render cache's header, which names this build of stackc: what
/// other caches that depend on the build compare (see [`cache_file::header`]).
pub(crate) fn header() -> Option<String> {
    cache_file::header("render", RENDER_RULES)
}

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

#[derive(Debug, Default)]
pub struct RenderCache {
    store: Store,
}

impl RenderCache {
    /// The cache of the project in `dir`; empty when there is none or it
    /// cannot be used.
    pub fn load(dir: &Path) -> RenderCache {
        RenderCache {
            store: Store::load(dir, FILE, "render", RENDER_RULES),
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
        let Some(key) = key.filter(|_| self.store.enabled()) else {
            return render();
        };
        if let Some(rendered) = self.hit(&key, file) {
            return Ok(rendered);
        }
        let rendered = render()?;
        self.store.put(key, encode(&rendered));
        Ok(rendered)
    }

    fn hit(&self, key: &Key, file: &SourceFile) -> Option<Rendered> {
        let rendered = decode(self.store.get(key)?, file)?;
        let env_unchanged = rendered
            .env
            .iter()
            .all(|(name, value)| std::env::var(name).ok().as_deref() == value.as_deref());
        if !env_unchanged {
            return None;
        }
        self.store.keep(key);
        Some(rendered.rendered)
    }

    /// Writes the entries this compile used to `dir` (see [`Store::save`]).
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        self.store.save(dir)
    }
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
        w.opt_str(std::env::var(name).ok().as_deref());
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
    let mut r = Reader::new(bytes);
    let mut env = Vec::new();
    for _ in 0..r.count(2)? {
        env.push((r.str()?, r.opt_str()?));
    }
    let sql = r.str()?;
    let mut spans = Vec::new();
    for _ in 0..r.count(5)? {
        let (a, b, c, d) = (r.len()?, r.len()?, r.len()?, r.len()?);
        spans.push(MapSpan {
            output: a..b,
            source: c..d,
            raw: r.byte()? != 0,
        });
    }
    let refs = r.strs()?;
    let mut sources = Vec::new();
    for _ in 0..r.count(2)? {
        sources.push((r.str()?, r.str()?));
    }
    let mut configs = Vec::new();
    for _ in 0..r.count(1)? {
        let config: BTreeMap<String, serde_json::Value> = serde_json::from_str(&r.str()?).ok()?;
        configs.push(config);
    }
    let vars: BTreeSet<String> = r.strs()?.into_iter().collect();
    let env_vars: BTreeSet<String> = r.strs()?.into_iter().collect();
    let macros: BTreeSet<String> = r.strs()?.into_iter().collect();
    r.done().then_some(())?;
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
        let path = dir.path().join(cache_file::FOLDER).join(FILE);
        let whole = std::fs::read(&path).unwrap();
        for cut in [whole.len() - 1, header().unwrap().len() + 10, 5] {
            std::fs::write(&path, &whole[..cut]).unwrap();
            assert!(
                RenderCache::load(dir.path()).store.earlier_len() == 0,
                "cut at {cut}"
            );
        }
        let mut other = whole.clone();
        other[7] ^= 1; // another version
        std::fs::write(&path, &other).unwrap();
        assert!(RenderCache::load(dir.path()).store.earlier_len() == 0);
    }
}
