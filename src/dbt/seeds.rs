//! Seeds as dbt loads them: their configs from the `seeds:` tree of
//! dbt_project.yml and column types inferred as dbt-postgres (agate) infers
//! them. Their names come from dbt's naming macros, rendered
//! (`crate::render::dbt::naming::seed_names`).

use std::collections::BTreeMap;

use super::DbtSettings;
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::seed::Seed;

/// Folders of a seed file under the seed path it is in.
pub(crate) fn folders(path: &str, seed_paths: &[String]) -> Vec<String> {
    let inner = seed_paths
        .iter()
        .find_map(|dir| {
            path.strip_prefix(dir.as_str())
                .and_then(|r| r.strip_prefix('/'))
        })
        .unwrap_or(path);
    let mut parts: Vec<String> = inner.split('/').map(str::to_string).collect();
    parts.pop();
    parts
}

/// The seed's configs from the `seeds:` tree, most specific first winning.
pub fn config(
    dbt: &DbtSettings,
    seed: &Seed,
    seed_paths: &[String],
) -> BTreeMap<String, serde_json::Value> {
    config_at(dbt, &seed.file.path, &seed.name, seed_paths)
}

/// [`config`] for the seed file at `path` named `name`, before it is read
/// (its `+delimiter` decides how).
pub fn config_at(
    dbt: &DbtSettings,
    path: &str,
    name: &str,
    seed_paths: &[String],
) -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    let package = dbt.package_of(path).map(|(p, _)| p.to_string());
    let properties = dbt.seed_properties.get(&(package, name.to_string()));
    for layer in properties
        .into_iter()
        .chain(layers(dbt, path, name, seed_paths))
    {
        for (k, e) in layer {
            if k == "column_types" {
                let types = e.value.as_object().map(|from| {
                    from.iter()
                        .map(|(c, t)| match t.as_str() {
                            Some(t) => (c.clone(), serde_json::json!(t.trim())),
                            None => (c.clone(), t.clone()),
                        })
                        .collect::<serde_json::Map<_, _>>()
                });
                // Column types merge across levels, the deepest winning.
                let entry = out
                    .entry(k.clone())
                    .or_insert_with(|| serde_json::json!({}));
                if let (Some(into), Some(from)) = (entry.as_object_mut(), types.as_ref()) {
                    for (c, t) in from {
                        into.entry(c.clone()).or_insert_with(|| t.clone());
                    }
                }
            } else {
                out.entry(k.clone()).or_insert_with(|| e.value.clone());
            }
        }
    }
    out
}

/// The `seeds:` layers that apply to the seed at `path`, the winning one
/// first. A package's seed takes the root project's `seeds: {pkg: ...}`
/// first, at any depth, then the root's entries for every project, then the
/// package's own tree, as dbt does.
fn layers<'a>(
    dbt: &'a DbtSettings,
    path: &str,
    name: &str,
    seed_paths: &[String],
) -> Vec<&'a crate::config::ConfigLayer> {
    let (trees, seed_paths): (Vec<&BTreeMap<Vec<String>, _>>, &[String]) =
        match dbt.package_of(path) {
            Some((pkg, config)) => (
                dbt.package_seed_configs
                    .get(pkg)
                    .into_iter()
                    .chain([&dbt.every_seed, &config.seed_configs])
                    .collect(),
                &config.seed_paths,
            ),
            None => (vec![&dbt.seed_configs], seed_paths),
        };
    let folders = folders(path, seed_paths);
    let mut paths = vec![super::project::config_path(&folders, name)];
    for depth in (0..=folders.len()).rev() {
        paths.push(folders[..depth].to_vec());
    }
    let mut out = Vec::new();
    for tree in trees {
        for p in &paths {
            if let Some(layer) = tree.get(p) {
                out.push(layer);
            }
        }
    }
    out
}

/// Records the seeds' schema-file `config:` entries, so that
/// [`config`] puts them over the `seeds:` trees.
pub fn collect_properties(dbt: &mut DbtSettings, schema_files: &[crate::schema::SchemaFile]) {
    for file in schema_files {
        let package = dbt.package_of(&file.path).map(|(p, _)| p.to_string());
        for seed in &file.seeds {
            if !seed.config.is_empty() {
                dbt.seed_properties
                    .insert((package.clone(), seed.name.clone()), seed.config.clone());
            }
        }
    }
}

/// Reads a seed file as dbt would with its configs: `+delimiter` (one
/// character), and `+quote_columns: false` (the column names are then
/// unquoted in dbt's SQL, so PostgreSQL folds them to lower case).
pub fn parse(
    dbt: &DbtSettings,
    file: &crate::project::SourceFile,
    seed_paths: &[String],
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Seed> {
    let name = file
        .path
        .rsplit('/')
        .next()
        .unwrap_or(&file.path)
        .trim_end_matches(".csv");
    let config = config_at(dbt, &file.path, name, seed_paths);
    let delimiter = match config.get("delimiter").and_then(|d| d.as_str()) {
        None => ',',
        Some(d) => {
            let mut chars = d.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if c != '"' && c != '\n' && c != '\r' => c,
                _ => {
                    let span = delimiter_span(dbt, &file.path, name, seed_paths)
                        .unwrap_or_else(|| Span::new(&file.path, 0..0));
                    let help = if span.file.ends_with("dbt_project.yml") {
                        "set `+delimiter: \"|\"` (or another single character) for this seed in dbt_project.yml"
                    } else {
                        "set `delimiter: \"|\"` (or another single character) in the seed entry's `config:`"
                    };
                    diagnostics.push(
                        Diagnostic::new(
                            Code::E0041,
                            format!("seed `{name}`: `delimiter` must be one character other than a quote or newline, found {d:?}"),
                        )
                        .at(span)
                        .help(help),
                    );
                    return None;
                }
            }
        }
    };
    if config.get("enabled").and_then(|e| e.as_bool()) == Some(false) {
        // dbt never reads a disabled seed's rows: a problem in them is no
        // problem. The seed stays known (a ref to it is E0039), empty.
        let mut ignored = Vec::new();
        return Some(
            crate::seed::parse_with(file, delimiter, &mut ignored).unwrap_or_else(|| Seed {
                file: file.clone(),
                name: name.to_string(),
                columns: Vec::new(),
                rows: Vec::new(),
            }),
        );
    }
    let mut seed = crate::seed::parse_with(file, delimiter, diagnostics)?;
    if config.get("quote_columns").and_then(|q| q.as_bool()) == Some(false) {
        for c in &mut seed.columns {
            *c = c.to_ascii_lowercase();
        }
    }
    Some(seed)
}

/// Where the winning `delimiter` of a seed is written.
fn delimiter_span(
    dbt: &DbtSettings,
    path: &str,
    name: &str,
    seed_paths: &[String],
) -> Option<Span> {
    let package = dbt.package_of(path).map(|(p, _)| p.to_string());
    dbt.seed_properties
        .get(&(package, name.to_string()))
        .into_iter()
        .chain(layers(dbt, path, name, seed_paths))
        .find_map(|l| l.get("delimiter"))
        .map(|e| e.span.clone())
}

/// agate's null values, as dbt configures them: empty and `null`, in any
/// case, around any whitespace.
pub fn is_null(v: &str) -> bool {
    let t = v.trim();
    t.is_empty() || t.eq_ignore_ascii_case("null")
}

/// The type dbt-postgres gives a seed column: agate tries integer, number,
/// date, datetime, boolean, then text; a number with decimals is `float8`,
/// a column with no value `integer`.
pub fn infer_type<'a>(values: impl Iterator<Item = Option<&'a str>>) -> String {
    let mut candidates = [true; 6]; // integer, float8, date, timestamp, boolean, bigint
    let mut any = false;
    let mut decimals = false;
    for v in values.flatten() {
        if is_null(v) {
            continue;
        }
        let v = v.trim();
        any = true;
        let int = v.parse::<i64>().is_ok();
        candidates[0] &= v.parse::<i32>().is_ok();
        candidates[5] &= int;
        let number = int
            || (v.parse::<f64>().is_ok()
                && v.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)));
        candidates[1] &= number;
        decimals |= number && !int && v.contains('.');
        candidates[2] &= crate::seed::is_date(v);
        candidates[3] &= crate::seed::is_timestamp(v);
        candidates[4] &= matches!(v.to_ascii_lowercase().as_str(), "true" | "false");
    }
    // agate takes the first type every value passes, and a column of
    // nulls only passes them all: dbt-postgres makes it `integer`.
    if !any || candidates[0] {
        return "integer".into();
    }
    if candidates[5] {
        // dbt says `integer` and the load fails; stackc keeps the values.
        return "bigint".into();
    }
    if candidates[1] {
        return if decimals { "float8" } else { "integer" }.into();
    }
    let names = ["", "", "date", "timestamp without time zone", "boolean"];
    for i in 2..5 {
        if candidates[i] {
            return names[i].into();
        }
    }
    "text".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(values: &[&str]) -> String {
        infer_type(values.iter().map(|v| Some(*v)))
    }

    #[test]
    fn types_follow_agate_and_dbt_postgres() {
        assert_eq!(t(&["1", "", "null"]), "integer");
        assert_eq!(t(&["", "null", " "]), "integer");
        assert_eq!(t(&["1", "2.50"]), "float8");
        assert_eq!(t(&["2018-01-01"]), "date");
        assert_eq!(t(&["true", "False"]), "boolean");
        assert_eq!(t(&["a", "1"]), "text");
        assert_eq!(t(&["", "NULL"]), "integer");
        assert_eq!(t(&["3000000000"]), "bigint");
    }
}
