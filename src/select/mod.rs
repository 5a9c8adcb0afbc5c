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

use std::fmt;

mod evaluate;
mod glob;
mod grammar;
mod index;
mod selectors;

pub use self::evaluate::{add_tests, evaluate, Context, Findings};
pub use self::glob::glob;
pub use self::grammar::parse;
pub use self::index::{unit_test_id, Candidate, Graph};
pub use self::selectors::parse_selectors;

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    use super::index::fqn;

    /// raw_orders (seed) -> stg_orders -> orders -> report; customers -> orders;
    /// a test on orders and one on orders+customers.
    pub(super) fn graph() -> Graph {
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

    pub(super) fn node(
        id: &str,
        kind: &str,
        file: &str,
        parents: &[&str],
        tags: &[&str],
    ) -> Candidate {
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

    pub(super) fn sel(args: &[&str]) -> BTreeSet<String> {
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

    pub(super) fn names(list: &[&str]) -> BTreeSet<String> {
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
}
