//! The nodes selection sees, built from a manifest: names, files, fqns,
//! configs and edges.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::manifest::{Manifest, Node};

/// What selection knows of a node. Serialized only into the cache of
/// `stackc ls` (see `commands::ls`), never into an artifact.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Candidate {
    pub id: String,
    pub name: String,
    pub resource_type: String,
    pub file: String,
    pub fqn: Vec<String>,
    pub package: String,
    pub tags: Vec<String>,
    pub config: BTreeMap<String, serde_json::Value>,
    pub checksum: Option<String>,
    /// Tests: the generic test's name (`unique`, `dbt_utils.at_least_one`).
    pub test_name: Option<String>,
    /// `generic`, `singular` or `unit`, for tests.
    #[serde(deserialize_with = "test_type")]
    pub test_type: Option<Word>,
    /// Sources: source name and table.
    pub source: Option<(String, String)>,
    /// Versioned models: this node's version and its model's latest.
    pub version: Option<String>,
    pub latest_version: Option<String>,
    pub parents: Vec<String>,
    /// dbt's `alias`: the relation's name (a test's own name).
    pub alias: Option<String>,
    /// dbt's `depends_on.macros`.
    pub macros: Vec<String>,
}

/// The id dbt gives a unit test (the manifest lists unit tests without one).
pub fn unit_test_id(project: &str, model_name: &str, name: &str) -> String {
    format!("unit_test.{project}.{model_name}.{name}")
}

/// A word of a closed set. Named, so that serde's derive does not take the
/// field for text borrowed from the input (it borrows every `&str`).
pub type Word = &'static str;

/// `Candidate::test_type` read back: one of its three words.
fn test_type<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'static str>, D::Error> {
    let word: Option<String> = serde::Deserialize::deserialize(d)?;
    word.map(|w| {
        ["generic", "singular", "unit"]
            .into_iter()
            .find(|known| *known == w)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown test type `{w}`")))
    })
    .transpose()
}

/// The nodes of a manifest, and its edges both ways.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Graph {
    pub nodes: BTreeMap<String, Candidate>,
    pub(super) children: BTreeMap<String, Vec<String>>,
}

/// The project an id names (`model.<project>.<name>`), or `root`.
pub(super) fn owner<'a>(id: &'a str, root: &'a str) -> &'a str {
    id.split('.').nth(1).unwrap_or(root)
}

/// A package file's path inside its package: `dbt_packages/pkg/models/a.sql`
/// is `models/a.sql`.
pub(super) fn package_relative(file: &str) -> &str {
    file.splitn(3, '/').nth(2).unwrap_or(file)
}

/// The fqn dbt gives a node: project, the folders under its resource
/// folder, and the name.
pub(super) fn fqn(project: &str, file: &str, tail: &[&str]) -> Vec<String> {
    let mut parts = vec![project.to_string()];
    let folders: Vec<&str> = file.split('/').collect();
    if folders.len() > 2 {
        parts.extend(folders[1..folders.len() - 1].iter().map(|s| s.to_string()));
    }
    parts.extend(tail.iter().map(|s| s.to_string()));
    parts
}

impl Graph {
    pub fn from_manifest<S: AsRef<str> + Ord + serde::Serialize>(m: &Manifest<S>) -> Graph {
        Self::from_manifest_with(m, false)
    }

    /// `analyses`: include them, for `ls --resource-type analysis` (dbt's
    /// selection and `ls` leave them out otherwise).
    pub fn from_manifest_with<S: AsRef<str> + Ord + serde::Serialize>(
        m: &Manifest<S>,
        analyses: bool,
    ) -> Graph {
        let project = m.metadata.project_name.as_ref();
        let mut nodes = BTreeMap::new();
        let strings = |v: &[S]| v.iter().map(|s| s.as_ref().to_string()).collect::<Vec<_>>();
        for (id, node) in &m.nodes {
            if !analyses && matches!(node, Node::Analysis(_)) {
                continue;
            }
            let id = id.as_ref().to_string();
            // A package's node is `<kind>.<package>.…` and lives in the
            // package's folder (`dbt_packages/<package>/models/…`).
            let owner_id = id.clone();
            let package = owner(&owner_id, project);
            let file = node.file().to_string();
            let project_file = if package == project {
                file.as_str()
            } else {
                package_relative(&file)
            };
            let project = package;
            let mut c = Candidate {
                id: id.clone(),
                name: node.name().to_string(),
                resource_type: node.resource_type().to_string(),
                file: file.clone(),
                package: project.to_string(),
                ..Candidate::default()
            };
            match node {
                Node::Model(n) => {
                    c.alias = n.relation.as_ref().map(|r| relation_name(r.as_ref()));
                    c.tags = strings(&n.tags);
                    c.macros = strings(&n.depends_on.macros);
                    c.checksum = Some(n.checksum.as_ref().to_string());
                    c.parents = strings(&n.depends_on.nodes);
                    if let Ok(serde_json::Value::Object(config)) = serde_json::to_value(&n.config) {
                        c.config = config.into_iter().collect();
                    }
                    c.config.insert(
                        "tags".into(),
                        serde_json::to_value(&c.tags).unwrap_or_default(),
                    );
                    // dbt's fqn of a versioned model ends in the model's
                    // name and `v<version>`, not in the file's name.
                    c.fqn = match (&n.version_of, &n.version) {
                        (Some(model), Some(v)) => {
                            let v = format!("v{}", v.as_ref());
                            fqn(project, project_file, &[model.as_ref(), &v])
                        }
                        // dbt's fqn of a block snapshot names its file and
                        // then the block (a file may hold several).
                        _ if c.resource_type == "snapshot" && project_file.ends_with(".sql") => {
                            let stem = project_file
                                .rsplit('/')
                                .next()
                                .and_then(|f| f.strip_suffix(".sql"))
                                .unwrap_or_default();
                            fqn(project, project_file, &[stem, &c.name])
                        }
                        _ => fqn(project, project_file, &[&c.name]),
                    };
                    c.version = n.version.as_ref().map(|v| v.as_ref().to_string());
                    c.latest_version = n.latest_version.as_ref().map(|v| v.as_ref().to_string());
                }
                Node::Seed(n) => {
                    c.alias = Some(relation_name(n.relation.as_ref()));
                    c.checksum = Some(n.checksum.as_ref().to_string());
                    c.parents = strings(&n.depends_on.nodes);
                    c.config.insert(
                        "materialized".into(),
                        serde_json::Value::from(n.materialization.as_ref()),
                    );
                    c.fqn = fqn(project, project_file, &[&c.name]);
                }
                Node::Analysis(n) => {
                    c.macros = strings(&n.depends_on.macros);
                    c.checksum = Some(n.checksum.as_ref().to_string());
                    c.parents = strings(&n.depends_on.nodes);
                    // dbt's fqn of an analysis: `<project>.analysis.<folders>.<name>`.
                    c.fqn = fqn(project, project_file, &[&c.name]);
                    c.fqn.insert(1, "analysis".into());
                }
                Node::Test(n) => {
                    c.alias = Some(test_alias(
                        &c.name,
                        n.test.as_ref(),
                        n.depends_on.nodes.first().map(AsRef::as_ref),
                    ));
                    c.checksum = n.checksum.as_ref().map(|s| s.as_ref().to_string());
                    c.parents = strings(&n.depends_on.nodes);
                    let singular = n.checksum.is_some();
                    c.test_type = Some(if singular { "singular" } else { "generic" });
                    c.test_name = Some(n.test.as_ref().to_string());
                    if !singular {
                        c.macros = generic_test_macros(n.test.as_ref(), project);
                    }
                    for (key, value) in [
                        ("severity", &n.severity),
                        ("warn_if", &n.warn_if),
                        ("error_if", &n.error_if),
                    ] {
                        c.config
                            .insert(key.into(), serde_json::Value::from(value.as_ref()));
                    }
                    c.tags = strings(&n.tags);
                    let config_tags = n
                        .config
                        .as_ref()
                        .map_or_else(Vec::new, |c| strings(&c.tags));
                    c.config
                        .insert("tags".into(), serde_json::Value::from(config_tags));
                    c.fqn = fqn(project, project_file, &[&c.name]);
                }
            }
            nodes.insert(id, c);
        }
        for (id, s) in &m.sources {
            let id = id.as_ref().to_string();
            let file = s.file.as_ref().to_string();
            let (source, table) = (s.source_name.as_ref(), s.name.as_ref());
            let owner_id = id.clone();
            let project = owner(&owner_id, project);
            nodes.insert(
                id.clone(),
                Candidate {
                    id,
                    name: table.to_string(),
                    resource_type: "source".into(),
                    // dbt's fqn of a source has no folders.
                    fqn: vec![project.to_string(), source.to_string(), table.to_string()],
                    file,
                    package: project.to_string(),
                    source: Some((source.to_string(), table.to_string())),
                    ..Candidate::default()
                },
            );
        }
        for others in [
            &m.exposures,
            &m.metrics,
            &m.saved_queries,
            &m.semantic_models,
        ] {
            for (id, o) in others {
                let id = id.as_ref().to_string();
                let file = o.file.as_ref().to_string();
                let name = o.name.as_ref().to_string();
                nodes.insert(
                    id.clone(),
                    Candidate {
                        id,
                        fqn: vec![project.to_string(), name.clone()],
                        name,
                        resource_type: o.resource_type.as_ref().to_string(),
                        file,
                        package: project.to_string(),
                        parents: strings(&o.depends_on.nodes),
                        ..Candidate::default()
                    },
                );
            }
        }
        for unit in &m.unit_tests {
            let name = unit.name.as_ref().to_string();
            let file = unit.source.as_ref().to_string();
            let model = unit.model.as_ref().to_string();
            let model_name = nodes
                .get(&model)
                .map(|n| n.name.clone())
                .unwrap_or_default();
            let id = unit_test_id(project, &model_name, &name);
            nodes.insert(
                id.clone(),
                Candidate {
                    id,
                    fqn: vec![project.to_string(), name.clone()],
                    name,
                    resource_type: "unit_test".into(),
                    file,
                    package: project.to_string(),
                    test_type: Some("unit"),
                    parents: vec![model],
                    ..Candidate::default()
                },
            );
        }
        Graph::new(nodes)
    }

    pub fn new(nodes: BTreeMap<String, Candidate>) -> Graph {
        let mut children: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (id, node) in &nodes {
            for parent in &node.parents {
                children.entry(parent.clone()).or_default().push(id.clone());
            }
        }
        Graph { nodes, children }
    }

    pub(super) fn walk(
        &self,
        start: &BTreeSet<String>,
        depth: Option<usize>,
        up: bool,
    ) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut queue: VecDeque<(String, usize)> = start.iter().map(|s| (s.clone(), 0)).collect();
        while let Some((id, d)) = queue.pop_front() {
            if depth.is_some_and(|max| d >= max) {
                continue;
            }
            let next: &[String] = if up {
                self.nodes.get(&id).map_or(&[], |n| n.parents.as_slice())
            } else {
                self.children.get(&id).map_or(&[], Vec::as_slice)
            };
            for n in next {
                if self.nodes.contains_key(n) && seen.insert(n.clone()) {
                    queue.push_back((n.clone(), d + 1));
                }
            }
        }
        seen
    }
}

/// The name part of `schema.name` as the manifest writes a relation,
/// unquoted.
fn relation_name(relation: &str) -> String {
    match relation
        .strip_suffix('"')
        .and_then(|r| r.rfind(".\"").map(|i| (r, i)))
    {
        Some((r, i)) => r[i + 2..].replace("\"\"", "\""),
        None => relation.rsplit('.').next().unwrap_or(relation).to_string(),
    }
}

/// dbt's alias of a test: its name, or for a name of 64 characters or more
/// the first 30 characters of `<test>_<target>` and the MD5 of the name
/// (as `crate::datatest` names them).
fn test_alias(name: &str, test: &str, target_id: Option<&str>) -> String {
    if name.len() < 64 {
        return name.to_string();
    }
    let target = match target_id.map(|id| id.split('.').collect::<Vec<_>>()) {
        Some(parts) if parts.first() == Some(&"source") && parts.len() >= 4 => {
            format!("source_{}_{}", parts[2], parts[3])
        }
        Some(parts) if parts.len() >= 3 => parts[2].to_string(),
        _ => return name.to_string(),
    };
    let identifier = format!("{}_{target}", test.replace('.', "_"));
    if !name.starts_with(&identifier) {
        return name.to_string();
    }
    use md5::Digest as _;
    let digest = md5::Md5::digest(name.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let cut: String = identifier.chars().take(30).collect();
    format!("{cut}_{hex}")
}

/// The macros dbt lists for a generic test: the test's own macro
/// (`macro.dbt.test_unique`, `macro.<package>.test_<name>`), and
/// `get_where_subquery` for those that call it outside dispatch (dbt
/// 1.10 lists it for accepted_values and relationships, not for unique and
/// not_null; a project's or package's test is taken to call it).
fn generic_test_macros(test: &str, project: &str) -> Vec<String> {
    let (own, where_subquery) = match test.split_once('.') {
        Some((package, name)) => (format!("macro.{package}.test_{name}"), true),
        None if matches!(test, "unique" | "not_null") => (format!("macro.dbt.test_{test}"), false),
        None if matches!(test, "accepted_values" | "relationships") => {
            (format!("macro.dbt.test_{test}"), true)
        }
        None => (format!("macro.{project}.test_{test}"), true),
    };
    let mut out = vec![own];
    if where_subquery {
        out.push("macro.dbt.get_where_subquery".to_string());
    }
    out
}

#[cfg(test)]
mod tests {

    use super::super::tests::{names, sel};
    #[allow(unused_imports)]
    use super::super::*;

    #[test]
    fn methods_unions_and_intersections() {
        assert_eq!(sel(&["tag:nightly"]), names(&["customers", "orders"]));
        assert_eq!(sel(&["tag:nightly,tag:finance"]), names(&["orders"]));
        assert_eq!(
            sel(&["tag:daily tag:finance"]),
            names(&["stg_orders", "orders"])
        );
        assert_eq!(
            sel(&["tag:daily", "report"]),
            names(&["stg_orders", "report"])
        );
        assert_eq!(
            sel(&["path:models/marts"]),
            names(&[
                "customers",
                "orders",
                "not_null_orders_id",
                "relationships_orders_customers"
            ])
        );
        assert_eq!(sel(&["models/staging"]), names(&["stg_orders"]));
        assert_eq!(sel(&["file:orders.sql"]), names(&["orders"]));
        assert_eq!(sel(&["resource_type:seed"]), names(&["raw_orders"]));
        assert_eq!(
            sel(&["shop.marts.*,resource_type:model"]),
            names(&["customers", "orders"])
        );
        // As dbt: a wildcard matches the rest of the fqn, not the name alone.
        assert_eq!(sel(&["*.stg_*"]), names(&["stg_orders"]));
        assert_eq!(sel(&["stg_*"]), names(&[]));
        assert_eq!(sel(&["shop.staging"]), names(&["stg_orders"]));
        assert_eq!(
            sel(&["test_type:generic,test_name:not_null"]),
            names(&["not_null_orders_id", "relationships_orders_customers"])
        );
        assert_eq!(sel(&["package:shop,tag:finance"]), names(&["orders"]));
    }
}
