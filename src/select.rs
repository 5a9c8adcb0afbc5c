//! Node selection with dbt's grammar (`-s/--select`, `--exclude`,
//! `--selector`), evaluated over a [`Manifest`]: the nodes, their files,
//! tags, configs and edges are all there, so `compile --check`, `apply`,
//! `test` and `ls` select the same way from what compile wrote.
//!
//! Grammar, as dbt's: arguments are unions; inside one, `a,b` is an
//! intersection; each term is `[@][N+]method:value[+N]` where the method
//! defaults to dbt's guess (a path if it looks like one, a file if it ends
//! in `.sql`/`.csv`, else the fqn, which matches names too). `+m` adds
//! ancestors, `m+` descendants (a number limits the depth), `@m` adds m's
//! descendants and all their ancestors.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use crate::manifest::{Manifest, Node};

/// A selection that could not be read: `offset` is the character of the
/// argument that is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectError {
    pub argument: String,
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for SelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\n  {}\n  {}^",
            self.message,
            self.argument,
            " ".repeat(
                self.argument[..self.offset.min(self.argument.len())]
                    .chars()
                    .count()
            )
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    Fqn,
    Tag,
    Path,
    File,
    Config(String),
    ResourceType,
    Source,
    TestType,
    TestName,
    Package,
    Exposure,
    Version,
    State(StateCheck),
    /// `selector:name`: a selector of `selectors.yml`.
    Selector,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateCheck {
    New,
    Modified,
    ModifiedBody,
    ModifiedConfigs,
    ModifiedContract,
}

/// One term: a method, its value and the graph operators around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub method: Method,
    pub value: String,
    /// `+m` (`None` depth: all ancestors).
    pub parents: Option<Option<usize>>,
    pub children: Option<Option<usize>>,
    /// `@m`.
    pub childrens_parents: bool,
    /// The argument and where in it the term starts, for messages.
    pub text: String,
}

/// Terms joined by `,` (all must match) or unions of such, or a YAML
/// selector's definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Term(Term),
    Union(Vec<Expr>),
    Intersection(Vec<Expr>),
    /// A union minus its exclusions (`exclude:` in YAML selectors).
    Difference(Box<Expr>, Box<Expr>),
}

/// How tests of selected nodes join a selection (`--indirect-selection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Indirect {
    /// A test joins when any node it tests is selected (dbt's default).
    #[default]
    Eager,
    /// When all the nodes it tests are selected.
    Cautious,
    /// When each node it tests is selected or an ancestor of one.
    Buildable,
    /// Tests join only when selected themselves.
    Empty,
}

impl Indirect {
    pub fn parse(s: &str) -> Option<Indirect> {
        Some(match s {
            "eager" => Indirect::Eager,
            "cautious" => Indirect::Cautious,
            "buildable" => Indirect::Buildable,
            "empty" => Indirect::Empty,
            _ => return None,
        })
    }
}

fn error(argument: &str, offset: usize, message: impl Into<String>) -> SelectError {
    SelectError {
        argument: argument.to_string(),
        offset,
        message: message.into(),
    }
}

/// Reads the arguments of one `--select` (or `--exclude`): a union.
pub fn parse(arguments: &[String]) -> Result<Expr, SelectError> {
    let mut union = Vec::new();
    for argument in arguments {
        // dbt accepts `-s "a b"` as well as `-s a b`.
        let mut at = 0;
        for word in argument.split(' ') {
            if !word.is_empty() {
                union.push(parse_intersection(argument, at, word)?);
            }
            at += word.len() + 1;
        }
    }
    Ok(Expr::Union(union))
}

fn parse_intersection(argument: &str, start: usize, word: &str) -> Result<Expr, SelectError> {
    let mut terms = Vec::new();
    let mut at = start;
    for part in word.split(',') {
        if part.is_empty() {
            return Err(error(
                argument,
                at,
                "empty term: `,` joins two selectors (`tag:a,path:models/x`)",
            ));
        }
        terms.push(Expr::Term(parse_term(argument, at, part)?));
        at += part.len() + 1;
    }
    Ok(if terms.len() == 1 {
        terms.remove(0)
    } else {
        Expr::Intersection(terms)
    })
}

/// Splits `2+name+3` into the depths and the middle.
fn operators(argument: &str, start: usize, part: &str) -> Result<Term, SelectError> {
    let mut rest = part;
    let mut at = start;
    let childrens_parents = rest.starts_with('@');
    if childrens_parents {
        rest = &rest[1..];
        at += 1;
    }
    let mut parents = None;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if rest[digits..].starts_with('+') {
        parents = Some(if digits == 0 {
            None
        } else {
            Some(
                rest[..digits]
                    .parse()
                    .map_err(|_| error(argument, at, "depth too large"))?,
            )
        });
        rest = &rest[digits + 1..];
        at += digits + 1;
    }
    let mut children = None;
    let trailing_digits = rest.bytes().rev().take_while(u8::is_ascii_digit).count();
    let body_end = rest.len() - trailing_digits;
    if rest[..body_end].ends_with('+') {
        children = Some(if trailing_digits == 0 {
            None
        } else {
            Some(
                rest[body_end..]
                    .parse()
                    .map_err(|_| error(argument, at + body_end, "depth too large"))?,
            )
        });
        rest = &rest[..body_end - 1];
    }
    if childrens_parents && (parents.is_some() || children.is_some()) {
        return Err(error(
            argument,
            start,
            "`@` cannot be combined with `+`: `@m` already adds m's descendants and their ancestors",
        ));
    }
    if rest.is_empty() {
        return Err(error(
            argument,
            at,
            "a selector needs a name or `method:value`",
        ));
    }
    Ok(Term {
        method: Method::Fqn,
        value: rest.to_string(),
        parents,
        children,
        childrens_parents,
        text: format!("{at}"),
    })
}

fn parse_term(argument: &str, start: usize, part: &str) -> Result<Term, SelectError> {
    let mut term = operators(argument, start, part)?;
    let value_at: usize = term.text.parse().unwrap_or(start);
    term.text = part.to_string();
    let (method, value) = match term.value.split_once(':') {
        Some((method, value)) => (Some(method.to_string()), value.to_string()),
        None => (None, term.value.clone()),
    };
    term.method = match method.as_deref() {
        None => default_method(&value),
        Some(m) => match parse_method(m) {
            Some(method) => method,
            None => {
                return Err(error(
                    argument,
                    value_at,
                    format!(
                        "unknown selector method `{m}`: use one of fqn, tag, path, file, config.<key>, resource_type, source, test_type, test_name, package, exposure, version, state, selector"
                    ),
                ))
            }
        },
    };
    if value.is_empty() {
        return Err(error(
            argument,
            value_at + part.len().min(term.value.len()),
            "the selector method needs a value after `:`",
        ));
    }
    if term.method == Method::Version
        && !matches!(value.as_str(), "latest" | "prerelease" | "old" | "none")
        && !value.starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(error(
            argument,
            value_at + "version:".len(),
            format!(
                "unknown version `{value}`: use latest, prerelease, old, none or a version number"
            ),
        ));
    }
    if let Method::State(_) = term.method {
        term.method = Method::State(match value.as_str() {
            "new" => StateCheck::New,
            "modified" => StateCheck::Modified,
            "modified.body" => StateCheck::ModifiedBody,
            "modified.configs" => StateCheck::ModifiedConfigs,
            "modified.contract" => StateCheck::ModifiedContract,
            other => {
                return Err(error(
                    argument,
                    value_at + "state:".len(),
                    format!("unknown state `{other}`: use new, modified, modified.body, modified.configs or modified.contract"),
                ))
            }
        });
    }
    term.value = value;
    Ok(term)
}

fn parse_method(m: &str) -> Option<Method> {
    Some(match m {
        "fqn" => Method::Fqn,
        "tag" => Method::Tag,
        "path" => Method::Path,
        "file" => Method::File,
        "resource_type" => Method::ResourceType,
        "source" => Method::Source,
        "test_type" => Method::TestType,
        "test_name" => Method::TestName,
        "package" => Method::Package,
        "exposure" => Method::Exposure,
        "version" => Method::Version,
        "state" => Method::State(StateCheck::Modified),
        "selector" => Method::Selector,
        _ => match m.strip_prefix("config.") {
            Some(key) if !key.is_empty() => Method::Config(key.to_string()),
            _ => return None,
        },
    })
}

/// dbt's guess when no method is written.
fn default_method(value: &str) -> Method {
    if value.contains('/') || value.contains('\\') {
        Method::Path
    } else if [".sql", ".py", ".csv"]
        .iter()
        .any(|ext| value.to_ascii_lowercase().ends_with(ext))
    {
        Method::File
    } else {
        Method::Fqn
    }
}

/// `fnmatch` as dbt uses it: `*`, `?` and `[...]`.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matching with one backtrack point per `*`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class(&p, pi, t[ti]) {
                        if matched {
                            pi = next;
                            ti += 1;
                            continue;
                        }
                    } else if t[ti] == '[' {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                c if c == t[ti] => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// A `[...]` class at `p[at]`: whether `c` is in it, and the index after it.
fn class(p: &[char], at: usize, c: char) -> Option<(bool, usize)> {
    let mut i = at + 1;
    let negate = matches!(p.get(i), Some('!'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() && (p[i] != ']' || first) {
        first = false;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            matched |= p[i] <= c && c <= p[i + 2];
            i += 3;
        } else {
            matched |= p[i] == c;
            i += 1;
        }
    }
    (i < p.len()).then_some((matched != negate, i + 1))
}

/// What selection knows of a node.
#[derive(Debug, Clone, Default)]
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
    pub test_type: Option<&'static str>,
    /// Sources: source name and table.
    pub source: Option<(String, String)>,
    /// Versioned models: this node's version and its model's latest.
    pub version: Option<String>,
    pub latest_version: Option<String>,
    pub parents: Vec<String>,
}

/// The id dbt gives a unit test (the manifest lists unit tests without one).
pub fn unit_test_id(project: &str, model_name: &str, name: &str) -> String {
    format!("unit_test.{project}.{model_name}.{name}")
}

/// The nodes of a manifest, and its edges both ways.
#[derive(Debug, Default)]
pub struct Graph {
    pub nodes: BTreeMap<String, Candidate>,
    children: BTreeMap<String, Vec<String>>,
}

/// The fqn dbt gives a node: project, the folders under its resource
/// folder, and the name.
fn fqn(project: &str, file: &str, tail: &[&str]) -> Vec<String> {
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
        let project = m.metadata.project_name.as_ref();
        let mut nodes = BTreeMap::new();
        let strings = |v: &[S]| v.iter().map(|s| s.as_ref().to_string()).collect::<Vec<_>>();
        for (id, node) in &m.nodes {
            let id = id.as_ref().to_string();
            let mut c = Candidate {
                id: id.clone(),
                name: node.name().to_string(),
                resource_type: node.resource_type().to_string(),
                file: node.file().to_string(),
                package: project.to_string(),
                ..Candidate::default()
            };
            match node {
                Node::Model(n) => {
                    c.tags = strings(&n.tags);
                    c.checksum = Some(n.checksum.as_ref().to_string());
                    c.parents = strings(&n.depends_on.nodes);
                    if let Ok(serde_json::Value::Object(config)) = serde_json::to_value(&n.config) {
                        c.config = config.into_iter().collect();
                    }
                    c.config.insert(
                        "tags".into(),
                        serde_json::to_value(&c.tags).unwrap_or_default(),
                    );
                    c.fqn = fqn(project, &c.file, &[&c.name]);
                    c.version = n.version.as_ref().map(|v| v.as_ref().to_string());
                    c.latest_version = n.latest_version.as_ref().map(|v| v.as_ref().to_string());
                }
                Node::Seed(n) => {
                    c.checksum = Some(n.checksum.as_ref().to_string());
                    c.parents = strings(&n.depends_on.nodes);
                    c.config.insert(
                        "materialized".into(),
                        serde_json::Value::from(n.materialization.as_ref()),
                    );
                    c.fqn = fqn(project, &c.file, &[&c.name]);
                }
                Node::Test(n) => {
                    c.checksum = n.checksum.as_ref().map(|s| s.as_ref().to_string());
                    c.parents = strings(&n.depends_on.nodes);
                    let singular = n.checksum.is_some();
                    c.test_type = Some(if singular { "singular" } else { "generic" });
                    c.test_name = Some(n.test.as_ref().to_string());
                    for (key, value) in [
                        ("severity", &n.severity),
                        ("warn_if", &n.warn_if),
                        ("error_if", &n.error_if),
                    ] {
                        c.config
                            .insert(key.into(), serde_json::Value::from(value.as_ref()));
                    }
                    c.fqn = fqn(project, &c.file, &[&c.name]);
                }
            }
            nodes.insert(id, c);
        }
        for (id, s) in &m.sources {
            let id = id.as_ref().to_string();
            let file = s.file.as_ref().to_string();
            let (source, table) = (s.source_name.as_ref(), s.name.as_ref());
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

    fn walk(&self, start: &BTreeSet<String>, depth: Option<usize>, up: bool) -> BTreeSet<String> {
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

/// What a selection evaluates against besides the graph.
#[derive(Default)]
pub struct Context<'a> {
    /// `--state`: the graph of a previous manifest.
    pub state: Option<&'a Graph>,
    /// `selectors.yml`, by name.
    pub selectors: Option<&'a BTreeMap<String, Expr>>,
}

/// What evaluating a selection found besides the nodes.
#[derive(Debug, Default)]
pub struct Findings {
    /// Terms that matched nothing, as written.
    pub unmatched: Vec<String>,
    /// Nodes an exclusion removed, with their tests: indirect selection
    /// does not bring them back.
    pub excluded: BTreeSet<String>,
}

/// Evaluates `expr`.
pub fn evaluate(
    graph: &Graph,
    expr: &Expr,
    cx: &Context<'_>,
    found: &mut Findings,
) -> Result<BTreeSet<String>, String> {
    evaluate_depth(graph, expr, cx, found, 0)
}

fn evaluate_depth(
    graph: &Graph,
    expr: &Expr,
    cx: &Context<'_>,
    found: &mut Findings,
    depth: usize,
) -> Result<BTreeSet<String>, String> {
    if depth > 32 {
        return Err("selectors refer to each other in a cycle".into());
    }
    Ok(match expr {
        Expr::Term(t) => {
            let nodes = term(graph, t, cx, found, depth)?;
            if nodes.is_empty() {
                found.unmatched.push(t.text.clone());
            }
            nodes
        }
        Expr::Union(parts) => {
            let mut out = BTreeSet::new();
            for p in parts {
                out.extend(evaluate_depth(graph, p, cx, found, depth)?);
            }
            out
        }
        Expr::Intersection(parts) => {
            let mut out: Option<BTreeSet<String>> = None;
            for p in parts {
                let s = evaluate_depth(graph, p, cx, found, depth)?;
                out = Some(match out {
                    None => s,
                    Some(o) => o.intersection(&s).cloned().collect(),
                });
            }
            out.unwrap_or_default()
        }
        Expr::Difference(a, b) => {
            let a = evaluate_depth(graph, a, cx, found, depth)?;
            let mut b = evaluate_depth(graph, b, cx, found, depth)?;
            // As `--exclude`: the tests of what is excluded go with it.
            add_tests(graph, &mut b, Indirect::Eager);
            let kept = a.difference(&b).cloned().collect();
            found.excluded.extend(b);
            kept
        }
    })
}

fn term(
    graph: &Graph,
    t: &Term,
    cx: &Context<'_>,
    found: &mut Findings,
    depth: usize,
) -> Result<BTreeSet<String>, String> {
    let base: BTreeSet<String> = match &t.method {
        Method::Selector => {
            let selectors = cx
                .selectors
                .ok_or_else(|| format!("`{}`: no selectors.yml in the project", t.text))?;
            let expr = selectors.get(&t.value).ok_or_else(|| {
                let known: Vec<&str> = selectors.keys().map(String::as_str).collect();
                format!(
                    "`{}`: selectors.yml has no selector `{}` (it has: {})",
                    t.text,
                    t.value,
                    known.join(", ")
                )
            })?;
            evaluate_depth(graph, expr, cx, found, depth + 1)?
        }
        Method::State(check) => {
            let old = cx.state.ok_or_else(|| {
                format!(
                    "`{}` compares with a previous manifest: pass --state DIR",
                    t.text
                )
            })?;
            graph
                .nodes
                .values()
                .filter(|n| state_matches(n, old, *check))
                .map(|n| n.id.clone())
                .collect()
        }
        _ => graph
            .nodes
            .values()
            .filter(|n| matches(n, &t.method, &t.value))
            .map(|n| n.id.clone())
            .collect(),
    };
    let mut out = base.clone();
    if let Some(d) = t.parents {
        out.extend(graph.walk(&base, d, true));
    }
    if let Some(d) = t.children {
        out.extend(graph.walk(&base, d, false));
    }
    if t.childrens_parents {
        let children = graph.walk(&base, None, false);
        let mut all: BTreeSet<String> = base.iter().chain(&children).cloned().collect();
        all.extend(graph.walk(&all.clone(), None, true));
        out.extend(all);
    }
    Ok(out)
}

fn state_matches(n: &Candidate, old: &Graph, check: StateCheck) -> bool {
    let Some(before) = old.nodes.get(&n.id) else {
        return matches!(check, StateCheck::New | StateCheck::Modified);
    };
    let body = n.checksum != before.checksum;
    let configs = n.config != before.config;
    match check {
        StateCheck::New => false,
        StateCheck::Modified => body || configs,
        StateCheck::ModifiedBody => body,
        StateCheck::ModifiedConfigs => configs,
        // The contract lives in the model's config here.
        StateCheck::ModifiedContract => n.config.get("contract") != before.config.get("contract"),
    }
}

fn matches(n: &Candidate, method: &Method, value: &str) -> bool {
    match method {
        Method::Fqn => fqn_matches(&n.fqn, value),
        Method::Tag => n.tags.iter().any(|tag| glob(value, tag)),
        Method::Path => {
            let value = value.trim_end_matches('/');
            let value = value.strip_prefix("./").unwrap_or(value);
            glob(value, &n.file)
                || n.file
                    .strip_prefix(value)
                    .is_some_and(|rest| rest.starts_with('/'))
                || (value.contains('*')
                    && n.file
                        .rsplit_once('/')
                        .is_some_and(|(dir, _)| glob(value, dir)))
        }
        Method::File => {
            let base = n.file.rsplit('/').next().unwrap_or(&n.file);
            let stem = base.rsplit_once('.').map_or(base, |(s, _)| s);
            glob(value, base) || glob(value, stem)
        }
        Method::Config(key) => n.config.get(key).is_some_and(|v| config_matches(v, value)),
        Method::ResourceType => n.resource_type == value,
        Method::Source => n.source.as_ref().is_some_and(|(s, t)| {
            let parts: Vec<&str> = value.split('.').collect();
            match parts.as_slice() {
                [source] => glob(source, s),
                [source, table] => glob(source, s) && glob(table, t),
                [package, source, table] => {
                    glob(package, &n.package) && glob(source, s) && glob(table, t)
                }
                _ => false,
            }
        }),
        Method::TestType => match value {
            "data" => matches!(n.test_type, Some("generic" | "singular")),
            "schema" => n.test_type == Some("generic"),
            other => n.test_type == Some(other),
        },
        Method::TestName => n.test_name.as_deref().is_some_and(|t| {
            glob(value, t)
                || t.rsplit_once('.')
                    .is_some_and(|(_, short)| glob(value, short))
        }),
        Method::Package => glob(value, &n.package),
        Method::Exposure => n.resource_type == "exposure" && glob(value, &n.name),
        Method::Version => n.resource_type == "model" && version_matches(n, value),
        Method::State(_) | Method::Selector => false,
    }
}

/// `version:latest|prerelease|old|none`, as dbt, or a version number (a
/// stackc addition: that version of every versioned model).
fn version_matches(n: &Candidate, value: &str) -> bool {
    use std::cmp::Ordering;
    let order = match (&n.version, &n.latest_version) {
        (Some(v), Some(l)) => Some(crate::schema::version_order(v, l)),
        _ => None,
    };
    match value {
        "latest" => order == Some(Ordering::Equal),
        "prerelease" => order == Some(Ordering::Greater),
        "old" => order == Some(Ordering::Less),
        "none" => n.version.is_none(),
        number => n
            .version
            .as_deref()
            .is_some_and(|v| crate::schema::version_order(v, number) == Ordering::Equal),
    }
}

/// dbt's fqn rule: the name itself, or the fqn's leading parts, where from
/// the first part with a wildcard on the rest of the fqn is matched as one
/// pattern (`shop.marts.*`, `*.stg_*`).
fn fqn_matches(fqn: &[String], selector: &str) -> bool {
    if fqn.last().is_some_and(|leaf| leaf == selector) {
        return true;
    }
    let flat: Vec<&str> = fqn.iter().flat_map(|part| part.split('.')).collect();
    let parts: Vec<&str> = selector.split('.').collect();
    if flat.len() < parts.len() {
        return false;
    }
    for (i, part) in parts.iter().enumerate() {
        if part.contains(['*', '?', '[', ']']) {
            return glob(&parts[i..].join("."), &flat[i..].join("."));
        }
        if flat[i] != *part {
            return false;
        }
    }
    true
}

fn config_matches(v: &serde_json::Value, value: &str) -> bool {
    match v {
        serde_json::Value::String(s) => glob(value, s),
        serde_json::Value::Bool(b) => value.eq_ignore_ascii_case(&b.to_string()),
        serde_json::Value::Number(n) => n.to_string() == value,
        serde_json::Value::Array(items) => items.iter().any(|i| config_matches(i, value)),
        _ => false,
    }
}

/// Adds the tests of selected nodes, as `--indirect-selection` says.
pub fn add_tests(graph: &Graph, selected: &mut BTreeSet<String>, mode: Indirect) {
    if mode == Indirect::Empty {
        return;
    }
    let ancestors = if mode == Indirect::Buildable {
        graph.walk(selected, None, true)
    } else {
        BTreeSet::new()
    };
    let tests: Vec<String> = graph
        .nodes
        .values()
        .filter(|n| n.test_type.is_some() && !selected.contains(&n.id))
        .filter(|n| {
            let mut parents = n.parents.iter().filter(|p| graph.nodes.contains_key(*p));
            match mode {
                Indirect::Eager => parents.any(|p| selected.contains(p)),
                Indirect::Cautious => {
                    let all: Vec<&String> = parents.collect();
                    !all.is_empty() && all.iter().all(|p| selected.contains(*p))
                }
                Indirect::Buildable => {
                    let all: Vec<&String> = parents.collect();
                    !all.is_empty()
                        && all
                            .iter()
                            .all(|p| selected.contains(*p) || ancestors.contains(*p))
                        && all.iter().any(|p| selected.contains(*p))
                }
                Indirect::Empty => false,
            }
        })
        .map(|n| n.id.clone())
        .collect();
    selected.extend(tests);
}

/// `selectors.yml` as dbt reads it: each selector's definition, as CLI
/// syntax or as `method`/`value` mappings with `union`, `intersection` and
/// `exclude`. Returns the selectors by name and the default one, if any.
pub fn parse_selectors(
    yaml: &serde_json::Value,
) -> Result<(BTreeMap<String, Expr>, Option<String>), String> {
    let list = yaml
        .get("selectors")
        .and_then(serde_json::Value::as_array)
        .ok_or("selectors.yml needs a top-level `selectors:` list")?;
    let mut out = BTreeMap::new();
    let mut default = None;
    for item in list {
        let name = item
            .get("name")
            .and_then(serde_json::Value::as_str)
            .ok_or("every selector needs a `name`")?;
        let definition = item
            .get("definition")
            .ok_or_else(|| format!("selector `{name}` has no `definition`"))?;
        if item.get("default").and_then(serde_json::Value::as_bool) == Some(true) {
            if let Some(other) = &default {
                return Err(format!(
                    "selectors `{other}` and `{name}` are both `default: true`: only one may be"
                ));
            }
            default = Some(name.to_string());
        }
        let expr = definition_expr(definition).map_err(|e| format!("selector `{name}`: {e}"))?;
        out.insert(name.to_string(), expr);
    }
    Ok((out, default))
}

fn definition_expr(v: &serde_json::Value) -> Result<Expr, String> {
    use serde_json::Value as J;
    match v {
        J::String(s) => parse(std::slice::from_ref(s)).map_err(|e| e.to_string()),
        J::Object(map) => {
            for (key, combine) in [("union", true), ("intersection", false)] {
                if let Some(items) = map.get(key) {
                    let items = items
                        .as_array()
                        .ok_or_else(|| format!("`{key}` takes a list"))?;
                    let mut parts = Vec::new();
                    let mut excluded = Vec::new();
                    for item in items {
                        match item.get("exclude") {
                            Some(ex) => {
                                let ex = ex.as_array().ok_or("`exclude` takes a list")?;
                                for e in ex {
                                    excluded.push(definition_expr(e)?);
                                }
                            }
                            None => parts.push(definition_expr(item)?),
                        }
                    }
                    let joined = if combine {
                        Expr::Union(parts)
                    } else {
                        Expr::Intersection(parts)
                    };
                    return Ok(if excluded.is_empty() {
                        joined
                    } else {
                        Expr::Difference(Box::new(joined), Box::new(Expr::Union(excluded)))
                    });
                }
            }
            let method = map.get("method").and_then(J::as_str).ok_or(
                "a selector mapping needs `method` and `value` (or `union` / `intersection`)",
            )?;
            let value = match map.get("value") {
                Some(J::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => return Err(format!("method `{method}` needs a `value`")),
            };
            let mut text = format!("{method}:{value}");
            let depth = |key: &str| map.get(key).and_then(J::as_u64).map(|d| d as usize);
            let flag = |key: &str| map.get(key).and_then(J::as_bool).unwrap_or(false);
            if flag("parents") {
                text = format!(
                    "{}+{text}",
                    depth("parents_depth").map_or(String::new(), |d| d.to_string())
                );
            }
            if flag("children") {
                text = format!(
                    "{text}+{}",
                    depth("children_depth").map_or(String::new(), |d| d.to_string())
                );
            }
            if flag("childrens_parents") {
                text = format!("@{text}");
            }
            let mut expr = parse(&[text]).map_err(|e| e.to_string())?;
            if let Some(ex) = map.get("exclude") {
                let ex = ex.as_array().ok_or("`exclude` takes a list")?;
                let excluded = ex
                    .iter()
                    .map(definition_expr)
                    .collect::<Result<Vec<_>, _>>()?;
                expr = Expr::Difference(Box::new(expr), Box::new(Expr::Union(excluded)));
            }
            Ok(expr)
        }
        _ => Err("a definition is a string or a mapping".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, kind: &str, file: &str, parents: &[&str], tags: &[&str]) -> Candidate {
        let name = id.rsplit('.').next().unwrap_or(id).to_string();
        Candidate {
            id: id.into(),
            fqn: fqn("shop", file, &[&name]),
            name,
            resource_type: kind.into(),
            file: file.into(),
            package: "shop".into(),
            tags: tags.iter().map(|s| s.to_string()).collect(),
            test_type: (kind == "test").then_some("generic"),
            test_name: (kind == "test").then(|| "not_null".to_string()),
            parents: parents.iter().map(|s| s.to_string()).collect(),
            ..Candidate::default()
        }
    }

    /// raw_orders (seed) -> stg_orders -> orders -> report; customers -> orders;
    /// a test on orders and one on orders+customers.
    fn graph() -> Graph {
        let nodes = [
            node(
                "seed.shop.raw_orders",
                "seed",
                "seeds/raw_orders.csv",
                &[],
                &[],
            ),
            node(
                "model.shop.stg_orders",
                "model",
                "models/staging/stg_orders.sql",
                &["seed.shop.raw_orders"],
                &["daily"],
            ),
            node(
                "model.shop.customers",
                "model",
                "models/marts/customers.sql",
                &[],
                &["nightly"],
            ),
            node(
                "model.shop.orders",
                "model",
                "models/marts/orders.sql",
                &["model.shop.stg_orders", "model.shop.customers"],
                &["nightly", "finance"],
            ),
            node(
                "model.shop.report",
                "model",
                "models/reports/report.sql",
                &["model.shop.orders"],
                &[],
            ),
            node(
                "test.shop.not_null_orders_id",
                "test",
                "models/marts/schema.yml",
                &["model.shop.orders"],
                &[],
            ),
            node(
                "test.shop.relationships_orders_customers",
                "test",
                "models/marts/schema.yml",
                &["model.shop.orders", "model.shop.customers"],
                &[],
            ),
        ];
        Graph::new(nodes.into_iter().map(|n| (n.id.clone(), n)).collect())
    }

    fn sel(args: &[&str]) -> BTreeSet<String> {
        let expr = parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        evaluate(
            &graph(),
            &expr,
            &Context::default(),
            &mut Findings::default(),
        )
        .unwrap()
        .into_iter()
        .map(|id| id.rsplit('.').next().unwrap().to_string())
        .collect()
    }

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn graph_operators_as_dbt() {
        assert_eq!(sel(&["orders"]), names(&["orders"]));
        assert_eq!(
            sel(&["+orders"]),
            names(&["orders", "stg_orders", "customers", "raw_orders"])
        );
        assert_eq!(
            sel(&["1+orders"]),
            names(&["orders", "stg_orders", "customers"])
        );
        assert_eq!(
            sel(&["orders+"]),
            names(&[
                "orders",
                "report",
                "not_null_orders_id",
                "relationships_orders_customers"
            ])
        );
        assert_eq!(sel(&["stg_orders+1"]), names(&["stg_orders", "orders"]));
        // @customers: its descendants and all their ancestors.
        assert_eq!(
            sel(&["@customers"]),
            names(&[
                "customers",
                "orders",
                "report",
                "stg_orders",
                "raw_orders",
                "not_null_orders_id",
                "relationships_orders_customers"
            ])
        );
    }

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

    #[test]
    fn tests_join_as_indirect_selection_says() {
        let g = graph();
        let pick = |ids: &[&str], mode| {
            let mut s: BTreeSet<String> = ids.iter().map(|i| format!("model.shop.{i}")).collect();
            add_tests(&g, &mut s, mode);
            s.into_iter().filter(|i| i.starts_with("test.")).count()
        };
        assert_eq!(pick(&["orders"], Indirect::Eager), 2);
        assert_eq!(pick(&["orders"], Indirect::Cautious), 1);
        assert_eq!(pick(&["orders", "customers"], Indirect::Cautious), 2);
        assert_eq!(pick(&["orders"], Indirect::Empty), 0);
        assert_eq!(
            pick(&["orders"], Indirect::Buildable),
            2,
            "customers is an ancestor of orders"
        );
        assert_eq!(pick(&["report"], Indirect::Eager), 0);
    }

    #[test]
    fn malformed_selectors_point_at_the_character() {
        let e = parse(&["tag:a,,b".into()]).unwrap_err();
        assert_eq!(e.offset, 6);
        let e = parse(&["orders tagz:x".into()]).unwrap_err();
        assert_eq!(e.offset, 7);
        assert!(e.message.contains("unknown selector method `tagz`"), "{e}");
        assert!(parse(&["@+orders".into()]).is_err());
        assert!(parse(&["state:changed".into()]).is_err());
        assert!(parse(&["tag:".into()]).is_err());
    }

    #[test]
    fn a_selector_matching_nothing_is_reported() {
        let expr = parse(&["tag:nope".into(), "orders".into()]).unwrap();
        let mut findings = Findings::default();
        let found = evaluate(&graph(), &expr, &Context::default(), &mut findings).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(findings.unmatched, ["tag:nope"]);
    }

    #[test]
    fn yaml_selectors_with_unions_and_exclusions() {
        let yaml: serde_json::Value = serde_json::json!({
            "selectors": [
                {"name": "nightly_no_finance", "default": true, "definition": {
                    "union": [
                        {"method": "tag", "value": "nightly", "children": true},
                        {"exclude": [{"method": "tag", "value": "finance"}]}
                    ]
                }},
                {"name": "staging", "definition": "path:models/staging"},
                {"name": "both", "definition": {"union": [
                    {"method": "selector", "value": "staging"}, "report"
                ]}}
            ]
        });
        let (selectors, default) = parse_selectors(&yaml).unwrap();
        assert_eq!(default.as_deref(), Some("nightly_no_finance"));
        let cx = Context {
            state: None,
            selectors: Some(&selectors),
        };
        let run = |name: &str| {
            evaluate(&graph(), &selectors[name], &cx, &mut Findings::default())
                .unwrap()
                .into_iter()
                .map(|id| id.rsplit('.').next().unwrap().to_string())
                .collect::<BTreeSet<_>>()
        };
        // The tests of the excluded `orders` go with it.
        assert_eq!(run("nightly_no_finance"), names(&["customers", "report"]));
        assert_eq!(run("both"), names(&["stg_orders", "report"]));
    }

    #[test]
    fn state_new_and_modified() {
        let mut old = graph();
        old.nodes.remove("model.shop.report");
        for n in old.nodes.values_mut() {
            n.checksum = Some("a".into());
        }
        let mut now = graph();
        for n in now.nodes.values_mut() {
            n.checksum = Some(if n.name == "orders" { "b" } else { "a" }.into());
        }
        let cx = Context {
            state: Some(&old),
            selectors: None,
        };
        let run = |s: &str| {
            evaluate(
                &now,
                &parse(&[s.into()]).unwrap(),
                &cx,
                &mut Findings::default(),
            )
            .unwrap()
            .into_iter()
            .map(|id| id.rsplit('.').next().unwrap().to_string())
            .collect::<BTreeSet<_>>()
        };
        assert_eq!(run("state:new"), names(&["report"]));
        assert_eq!(run("state:modified"), names(&["orders", "report"]));
        assert_eq!(
            run("state:modified.body,resource_type:model"),
            names(&["orders"])
        );
    }

    #[test]
    fn globs_as_fnmatch() {
        assert!(glob("stg_*", "stg_orders"));
        assert!(glob("*orders", "stg_orders"));
        assert!(glob("s?g_*", "stg_orders"));
        assert!(glob("[a-s]tg*", "stg"));
        assert!(!glob("[!s]tg*", "stg"));
        assert!(!glob("stg_*x", "stg_orders"));
        assert!(glob("*", ""));
    }

    #[test]
    fn version_methods_as_dbt() {
        let model = |name: &str, version: Option<&str>, latest: Option<&str>| Candidate {
            version: version.map(str::to_string),
            latest_version: latest.map(str::to_string),
            ..node(
                &format!("model.shop.{name}"),
                "model",
                &format!("models/{name}.sql"),
                &[],
                &[],
            )
        };
        let nodes = [
            model("dim_v1", Some("1"), Some("2")),
            model("dim_v2", Some("2"), Some("2")),
            model("dim_v3", Some("3"), Some("2")),
            model("dim_v10", Some("10"), Some("2")),
            model("plain", None, None),
            node("seed.shop.s", "seed", "seeds/s.csv", &[], &[]),
        ];
        let graph = Graph::new(nodes.into_iter().map(|n| (n.id.clone(), n)).collect());
        let pick = |value: &str| -> BTreeSet<String> {
            let expr = parse(&[format!("version:{value}")]).unwrap();
            evaluate(&graph, &expr, &Context::default(), &mut Findings::default())
                .unwrap()
                .into_iter()
                .map(|id| id.rsplit('.').next().unwrap().to_string())
                .collect()
        };
        assert_eq!(pick("latest"), names(&["dim_v2"]));
        // 10 > 2 as numbers, not as text.
        assert_eq!(pick("prerelease"), names(&["dim_v3", "dim_v10"]));
        assert_eq!(pick("old"), names(&["dim_v1"]));
        // Models only: a seed has no version, but is not a model either.
        assert_eq!(pick("none"), names(&["plain"]));
        assert_eq!(pick("3"), names(&["dim_v3"]));
        let e = parse(&["version:newest".to_string()]).unwrap_err();
        assert_eq!(e.offset, "version:".len());
        assert!(e.message.contains("latest, prerelease, old, none"));
    }
}
