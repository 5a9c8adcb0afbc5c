//! `stackc.toml`: the project's settings and folder configs, read from TOML.

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use crate::config::{ConfigEntry, ConfigLayer};
use crate::diagnostic::{Code, Diagnostic, SourceFiles, Span};

use super::files::{not_utf8, source_file};
use super::toml_values::{Folder, FolderEntry, Json};
use super::{detect_flavor, Flavor, LoadOptions, Paths, Settings, SourceFile};

/// Reads the project file(s) of `root`: `stackc.toml`, or `dbt_project.yml`
/// (with an optional `stackc.toml` beside it for stackc-only settings).
pub(super) fn read_settings(
    root: &Path,
    options: &LoadOptions,
    files: &mut SourceFiles,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<(Settings, SourceFile), Diagnostic> {
    if !root.is_dir() {
        return Err(Diagnostic::new(
            Code::E0001,
            format!("project folder `{}` does not exist", root.display()),
        )
        .help("pass the folder that holds stackc.toml or dbt_project.yml, e.g. `stackc compile project_template`"));
    }
    match detect_flavor(root) {
        None => Err(Diagnostic::new(
            Code::E0001,
            format!(
                "`{}` is not a project: neither stackc.toml nor dbt_project.yml is in it",
                root.display()
            ),
        )
        .help("pass the folder that holds stackc.toml (`[project] name = \"...\"`) or a dbt project's dbt_project.yml")),
        Some(Flavor::Native) => {
            let file = read_settings_file(root, "stackc.toml", files)?;
            let mut settings = parse_settings(&file, diagnostics);
            settings.vars.extend(options.vars.clone());
            settings.cli_vars = options.vars.clone();
            Ok((settings, file))
        }
        Some(Flavor::Dbt) => {
            let file = read_settings_file(root, "dbt_project.yml", files)?;
            let beside = if root.join("stackc.toml").exists() {
                let toml = read_settings_file(root, "stackc.toml", files)?;
                let mut local = Vec::new();
                let parsed = parse_settings(&toml, &mut local);
                // The name comes from dbt_project.yml.
                local.retain(|d| !(d.code == Code::E0001 && d.message.contains("[project] name")));
                diagnostics.extend(local);
                Some((parsed, toml))
            } else {
                None
            };
            let settings = crate::dbt::settings(root, &file, beside, options, files, diagnostics);
            Ok((settings, file))
        }
    }
}

pub(super) const FOLDER_CONFIG_KEYS: &[&str] = crate::config::CONFIG_KEYS;

pub(crate) fn parse_settings(file: &SourceFile, diagnostics: &mut Vec<Diagnostic>) -> Settings {
    let mut settings = Settings {
        flavor: Flavor::Native,
        paths: Paths::default(),
        dbt: None,
        name: String::new(),
        layers: BTreeMap::new(),
        folder_configs: BTreeMap::new(),
        vars: BTreeMap::new(),
        cli_vars: BTreeMap::new(),
        url_env: None,
        seeds_schema: "seeds".into(),
        history_schema: "public".into(),
        history_table: "stackc_schema_history".into(),
    };
    let table = match DeTable::parse(&file.text) {
        Ok(t) => t.into_inner(),
        Err(e) => {
            let range = e.span().unwrap_or(0..0);
            diagnostics.push(
                Diagnostic::new(Code::E0001, format!("invalid TOML: {}", e.message().trim()))
                    .at_file(&file.path, range)
                    .help("see the stackc.toml format in the README"),
            );
            return settings;
        }
    };
    let err = |range: std::ops::Range<usize>, msg: String, help: &str| {
        Diagnostic::new(Code::E0001, msg)
            .at_file(&file.path, range)
            .help(help.to_string())
    };
    let mut has_name = false;
    for (key, value) in &table {
        let section = key.get_ref().as_ref();
        let Some(section_table) = value.get_ref().as_table() else {
            diagnostics.push(err(
                key.span(),
                format!("`{section}` must be a table (`[{section}]`)"),
                "the top level of stackc.toml holds only tables: [project], [layers], [models.<folder>], [vars], [connection], [seeds], [history]",
            ));
            continue;
        };
        match section {
            "project" => {
                let project: Project = read_section(file, "project", section_table, diagnostics);
                if let Some(v) = project.name {
                    match v.get_ref().as_str() {
                        Some(name) if is_identifier(name) => {
                            settings.name = name.to_string();
                            has_name = true;
                        }
                        _ => diagnostics.push(err(
                            v.span(),
                            "`project.name` must be a string of letters, digits and `_`".into(),
                            "for example `name = \"analytics\"`",
                        )),
                    }
                }
            }
            "layers" => {
                let layers: Layers = read_section(file, "layers", section_table, diagnostics);
                for (k, v) in layers.0 {
                    match v.get_ref().as_str() {
                        Some(s)
                            if refuses_control(
                                file,
                                k.span(),
                                "layer",
                                k.get_ref(),
                                diagnostics,
                            ) | refuses_control(file, v.span(), "schema", s, diagnostics) => {}
                        Some(s) if !s.is_empty() => {
                            settings.layers.insert(k.into_inner(), s.to_string());
                        }
                        _ => diagnostics.push(err(
                            v.span(),
                            format!("layer `{}` must map to a schema name string", k.get_ref()),
                            "for example `staging = \"staging\"`",
                        )),
                    }
                }
            }
            "models" => {
                let models: Folder = read_section(file, "models", section_table, diagnostics);
                folder_configs(file, models, &mut Vec::new(), &mut settings, diagnostics);
            }
            "vars" => {
                let vars: Vars = read_section(file, "vars", section_table, diagnostics);
                settings
                    .vars
                    .extend(vars.0.into_iter().map(|(k, v)| (k, v.0)));
            }
            "connection" => {
                let connection: Connection =
                    read_section(file, "connection", section_table, diagnostics);
                if let Some(v) = connection.url_env {
                    match v.get_ref().as_str() {
                        Some(s) if !s.is_empty() => settings.url_env = Some(s.to_string()),
                        _ => diagnostics.push(err(
                            v.span(),
                            "`connection.url_env` must be the name of an environment variable".into(),
                            "for example `url_env = \"DATABASE_URL\"`; never put a URL or password in stackc.toml",
                        )),
                    }
                }
            }
            "seeds" => {
                let seeds: Seeds = read_section(file, "seeds", section_table, diagnostics);
                if let Some(v) = seeds.schema {
                    match v.get_ref().as_str() {
                        Some(s) if refuses_control(file, v.span(), "schema", s, diagnostics) => {}
                        Some(s) if !s.is_empty() => settings.seeds_schema = s.to_string(),
                        _ => diagnostics.push(err(
                            v.span(),
                            "`seeds.schema` must be a schema name".into(),
                            "for example `schema = \"seeds\"`",
                        )),
                    }
                }
            }
            "history" => {
                let history: History = read_section(file, "history", section_table, diagnostics);
                for (key, value, setting) in [
                    ("schema", history.schema, &mut settings.history_schema),
                    ("table", history.table, &mut settings.history_table),
                ] {
                    let Some(v) = value else { continue };
                    match v.get_ref().as_str() {
                        Some(s) if refuses_control(file, v.span(), "history", s, diagnostics) => {}
                        Some(s) if !s.is_empty() => *setting = s.to_string(),
                        _ => diagnostics.push(err(
                            v.span(),
                            format!("`history.{key}` must be a non-empty string"),
                            "for example `table = \"stackc_schema_history\"`",
                        )),
                    }
                }
            }
            other => diagnostics.push(unknown_key(
                file,
                key.span(),
                "stackc.toml",
                other,
                &[
                    "project",
                    "layers",
                    "models",
                    "vars",
                    "connection",
                    "seeds",
                    "history",
                ],
            )),
        }
    }
    if !has_name {
        let already = diagnostics
            .iter()
            .any(|d| d.code == Code::E0001 && d.message.contains("project.name"));
        if !already {
            diagnostics.push(
                Diagnostic::new(Code::E0001, "stackc.toml has no `[project] name`")
                    .at_file(&file.path, 0..0)
                    .help("add `[project]` with `name = \"analytics\"` (letters, digits and `_`)"),
            );
        }
    }
    settings
}

/// The sections of stackc.toml with fixed keys, as serde reads them. A
/// value stays a spanned `toml::Value` so that a wrong type gets the
/// setting's own message at its place (serde would stop at the first).
#[derive(Deserialize, Default)]
struct Project {
    name: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize, Default)]
struct Connection {
    url_env: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize, Default)]
struct Seeds {
    schema: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize, Default)]
struct History {
    schema: Option<Spanned<toml::Value>>,
    table: Option<Spanned<toml::Value>>,
}

/// `[layers]`: any name, each with its place.
#[derive(Deserialize, Default)]
struct Layers(BTreeMap<Spanned<String>, Spanned<toml::Value>>);

/// Reads `table` into `T` with serde, after reporting every key that `T`
/// has no field for (`deny_unknown_fields` would stop at the first; a
/// `#[serde(flatten)]` map of the rest loses toml's spans, so the keys are
/// sorted out here, on the parsed table that keeps them).
fn read_section<T: DeserializeOwned + Default>(
    file: &SourceFile,
    name: &str,
    table: &DeTable<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> T {
    let known = fields_of::<T>();
    let mut kept = DeTable::new();
    for (k, v) in table {
        if known.is_empty() || known.contains(&k.get_ref().as_ref()) {
            kept.insert(k.clone(), v.clone());
        } else {
            diagnostics.push(unknown_key(file, k.span(), name, k.get_ref(), known));
        }
    }
    let whole = Spanned::new(0..0, DeValue::Table(kept));
    match T::deserialize(ValueDeserializer::from(whole)) {
        Ok(section) => section,
        // Every field takes any value, so this is unreachable; said, not
        // dropped, should a stricter field be added.
        Err(e) => {
            diagnostics.push(
                Diagnostic::new(Code::E0001, format!("invalid `[{name}]`: {}", e.message()))
                    .at_file(&file.path, e.span().unwrap_or(0..0))
                    .help("see the stackc.toml format in the README"),
            );
            T::default()
        }
    }
}

/// The field names serde derives for struct `T` (none for a map): the keys
/// [`read_section`] accepts, so the struct is the only list of them.
fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Probe<'a>(&'a std::cell::Cell<&'static [&'static str]>);
    impl<'de> serde::Deserializer<'de> for Probe<'_> {
        type Error = serde::de::value::Error;
        fn deserialize_any<V: serde::de::Visitor<'de>>(
            self,
            _: V,
        ) -> Result<V::Value, Self::Error> {
            Err(serde::de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0.set(fields);
            Err(serde::de::Error::custom("fields noted"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let fields = std::cell::Cell::new(&[][..]);
    // Fails by design: the probe only notes what serde asks for.
    let _ = T::deserialize(Probe(&fields));
    fields.get()
}

/// `[vars]`: any name, any value.
#[derive(Deserialize, Default)]
struct Vars(BTreeMap<String, Json>);

/// The folder configs of `folder` (at `folders`, `[]` for `[models]`) and
/// of every folder under it; every key that is neither a config nor a
/// folder reported at its place.
fn folder_configs(
    file: &SourceFile,
    folder: Folder,
    folders: &mut Vec<String>,
    settings: &mut Settings,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut layer = ConfigLayer::default();
    for (k, entry) in folder.0 {
        let key = k.get_ref().as_str();
        match entry {
            FolderEntry::Config(v) => {
                layer.insert(
                    key.to_string(),
                    ConfigEntry {
                        span: Span::new(&file.path, v.span()),
                        value: v.into_inner().0,
                    },
                );
            }
            FolderEntry::Folder(sub) => {
                if refuses_control(file, k.span(), "folder", key, diagnostics) {
                    continue;
                }
                folders.push(key.to_string());
                folder_configs(file, sub, folders, settings, diagnostics);
                folders.pop();
            }
            FolderEntry::Unknown => {
                let section = format!("models.{}", folders.join("."));
                diagnostics.push(unknown_key(
                    file,
                    k.span(),
                    section.trim_end_matches('.'),
                    key,
                    FOLDER_CONFIG_KEYS,
                ));
            }
        }
    }
    if !layer.is_empty() {
        settings.folder_configs.insert(folders.clone(), layer);
    }
}

/// A name in stackc.toml reaches SQL and artifact comments like a file's
/// path does: a control character in it is E0010, at the value (issue 11,
/// item 2). Returns whether it was refused.
pub(super) fn refuses_control(
    file: &SourceFile,
    range: std::ops::Range<usize>,
    what: &str,
    value: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> bool {
    if !value.chars().any(char::is_control) {
        return false;
    }
    diagnostics.push(control_character(what, value, Span::new(&file.path, range)));
    true
}

/// E0010 for a name written in a setting or config: `what` is the kind of
/// name (`schema`, `alias`, `layer`).
pub fn control_character(what: &str, value: &str, at: Span) -> Diagnostic {
    Diagnostic::new(
        Code::E0010,
        format!(
            "the {what} name `{}` contains a control character",
            crate::diagnostic::one_line(value)
        ),
    )
    .at(at)
    .help("write the name without newlines, tabs or other control characters")
}

pub(super) fn unknown_key(
    file: &SourceFile,
    range: std::ops::Range<usize>,
    section: &str,
    key: &str,
    known: &[&str],
) -> Diagnostic {
    let mut help = format!("known keys here: {}", known.join(", "));
    if let Some(close) = crate::suggest::closest(key, known.iter().copied()) {
        help = format!("did you mean `{close}`? ({help})");
    }
    Diagnostic::new(Code::E0001, format!("unknown key `{key}` in `{section}`"))
        .at_file(&file.path, range)
        .help(help)
}

pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `root/stackc.toml` as a source file. A file that is there but cannot be
/// read as text (a folder, not UTF-8) is reported at `stackc.toml:1:1` or
/// at its first invalid byte; a missing one with the path that was tried.
/// Reads a project file (`stackc.toml`, `dbt_project.yml`), with a location
/// also when it is a folder or not UTF-8.
pub(super) fn read_settings_file(
    root: &Path,
    name: &str,
    files: &mut SourceFiles,
) -> Result<SourceFile, Diagnostic> {
    const HELP: &str = "a project has a stackc.toml with at least `[project] name = \"...\"`, or a dbt_project.yml with `name:`";
    let path = root.join(name);
    let cannot_read = |e: &dyn std::fmt::Display| {
        Diagnostic::new(
            Code::E0001,
            format!("cannot read `{}`: {e}", path.display()),
        )
        .help(HELP)
    };
    if path.is_dir() {
        let file = source_file(files, name, String::new());
        return Err(
            Diagnostic::new(Code::E0001, format!("`{name}` is a folder, not a file"))
                .at_file(&file.path, 0..0)
                .help(HELP),
        );
    }
    let bytes = std::fs::read(&path).map_err(|e| cannot_read(&e))?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(source_file(files, name, text)),
        Err(e) => Err(not_utf8(files, name, e)),
    }
}

/// Reads and checks only `stackc.toml`, for commands that need the settings
/// beside a compile (`stackc apply` reads the history table and connection
/// settings from it, also when it runs committed artifacts). On error, the
/// diagnostics and the file they point into.
pub fn load_settings(root: &Path) -> Result<Settings, (Vec<Diagnostic>, SourceFiles)> {
    load_settings_with(root, &LoadOptions::default())
}

pub fn load_settings_with(
    root: &Path,
    options: &LoadOptions,
) -> Result<Settings, (Vec<Diagnostic>, SourceFiles)> {
    let mut files = SourceFiles::default();
    let mut diagnostics = Vec::new();
    let settings = match read_settings(root, options, &mut files, &mut diagnostics) {
        Ok((settings, _)) => settings,
        Err(d) => return Err((vec![d], files)),
    };
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err((diagnostics, files));
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn diagnostics(text: &str) -> Vec<(String, String)> {
        let file = SourceFile {
            path: Arc::from("stackc.toml"),
            text: Arc::from(text),
        };
        let mut diagnostics = Vec::new();
        parse_settings(&file, &mut diagnostics);
        diagnostics
            .iter()
            .map(|d| {
                let span = d.primary.clone().unwrap();
                (d.message.clone(), text[span.range].to_string())
            })
            .collect()
    }

    #[test]
    fn every_unknown_key_and_every_wrong_value_is_reported_at_its_place() {
        let text = "[project]\nname = 5\nnam = \"a\"\nowner = \"me\"\n[connection]\nurl = \"x\"\nurl_env = \"\"\n[history]\nschema = 1\ntable = 2\ntabel = 3\n[layers]\nstaging = 4\n";
        let found = diagnostics(text);
        for expected in [
            ("unknown key `nam` in `project`", "nam"),
            ("unknown key `owner` in `project`", "owner"),
            (
                "`project.name` must be a string of letters, digits and `_`",
                "5",
            ),
            ("unknown key `url` in `connection`", "url"),
            (
                "`connection.url_env` must be the name of an environment variable",
                "\"\"",
            ),
            ("`history.schema` must be a non-empty string", "1"),
            ("`history.table` must be a non-empty string", "2"),
            ("unknown key `tabel` in `history`", "tabel"),
            ("layer `staging` must map to a schema name string", "4"),
        ] {
            let expected = (expected.0.to_string(), expected.1.to_string());
            assert!(found.contains(&expected), "{expected:?} not in {found:#?}");
        }
        assert_eq!(found.len(), 9, "{found:#?}");
    }

    #[test]
    fn folder_configs_and_vars_keep_their_places_and_values() {
        let text = "[project]\nname = \"p\"\n[models]\nmaterialized = \"view\"\n[models.staging]\nschema = \"stg\"\nmaterialise = \"table\"\ncreated = 1979-05-27\n[models.staging.deep]\ntags = [\"a\", 1]\nnope = {}\n[vars]\nn = 5\nbig = 18446744073709551615\nf = 1.5\nwhen = 1979-05-27T07:32:00Z\nlist = [1, \"x\", {k = true}]\n";
        let found = diagnostics(text);
        assert_eq!(
            found,
            [
                (
                    "unknown key `created` in `models.staging`".to_string(),
                    "created".to_string()
                ),
                (
                    "unknown key `materialise` in `models.staging`".to_string(),
                    "materialise".to_string()
                ),
            ]
        );
        let file = SourceFile {
            path: Arc::from("stackc.toml"),
            text: Arc::from(text),
        };
        let settings = parse_settings(&file, &mut Vec::new());
        let at = |folders: &[&str], key: &str| {
            let folders: Vec<String> = folders.iter().map(|f| f.to_string()).collect();
            let entry = &settings.folder_configs[&folders][key];
            (
                entry.value.clone(),
                text[entry.span.range.clone()].to_string(),
            )
        };
        assert_eq!(at(&[], "materialized").1, "\"view\"");
        assert_eq!(at(&["staging"], "schema").0, serde_json::json!("stg"));
        assert_eq!(
            at(&["staging", "deep"], "tags"),
            (serde_json::json!(["a", 1]), "[\"a\", 1]".to_string())
        );
        assert_eq!(settings.folder_configs.len(), 3);
        assert_eq!(
            serde_json::Value::Object(settings.vars.clone().into_iter().collect()),
            serde_json::json!({
                "n": 5, "big": "18446744073709551615", "f": 1.5,
                "when": "1979-05-27T07:32:00Z", "list": [1, "x", {"k": true}],
            })
        );
    }

    #[test]
    fn the_keys_of_a_section_are_its_fields() {
        assert_eq!(fields_of::<History>(), ["schema", "table"]);
        assert_eq!(fields_of::<Project>(), ["name"]);
        assert!(fields_of::<Layers>().is_empty());
    }
}
