//! The apply benchmark (ignored by default: run it by hand, on a release
//! build, with `psql` on the PATH):
//!
//! ```sh
//! cargo test --release --test apply_bench -- --ignored --nocapture
//! ```
//!
//! It measures, on the sample project:
//! 1. a no-op apply (nothing pending, the data steps and tests over a few
//!    rows): target under 100 ms;
//! 2. an apply over generated data (`STACKC_BENCH_SALES` order lines,
//!    default 500 000) against the same files run by one `psql` session,
//!    each data step between `begin` and `commit` (what `psql -1 -f` does
//!    per file), each test counted as stackc counts it, in the same order:
//!    target within 5 %. It also times one `psql -1 -f` process per file
//!    (tests as they are), the literal comparison.
//!
//! Each figure is the median of 5 runs, each from a vacuumed database, the
//! three taking turns going first. The test fails when a target is missed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};

mod common;

struct Db {
    name: String,
    config: postgres::Config,
    url: String,
}

impl Db {
    fn new(tag: &str) -> Db {
        let (name, config) = common::create_database("stackc_apply_bench", tag);
        let host = match &config.get_hosts()[0] {
            postgres::config::Host::Tcp(h) => h.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(p) => p.display().to_string(),
        };
        let url = format!(
            "postgres://{}@{host}:{}/{name}",
            config.get_user().unwrap_or("postgres"),
            config.get_ports().first().copied().unwrap_or(5432)
        );
        Db { name, config, url }
    }

    fn client(&self) -> Client {
        self.config.connect(NoTls).unwrap()
    }

    fn psql(&self) -> Command {
        let mut cmd = Command::new("psql");
        cmd.args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-o",
            "/dev/null",
            "-d",
            &self.url,
        ]);
        cmd
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        common::drop_database(&self.name);
    }
}

fn template() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("project_template")
}

/// Runs `stackc apply` and returns its JSON report.
fn apply(db: &Db) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_stackc"))
        .args([
            "apply",
            template().to_str().unwrap(),
            "--database-url",
            &db.url,
        ])
        .args(["--format", "json"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

const FEW_ROWS: &str = "
insert into raw.products (product_id, sku, name, category, unit_price) values
    (1, 'SKU-1', 'Pen', 'BOOK', 2.50), (2, 'SKU-2', 'Lamp', 'HOME', 30.00);
insert into raw.customers (customer_id, email, full_name, country_code, signup_date) values
    (1, 'a@x.org', 'Ann', 'DE', '2024-01-02'), (2, 'b@y.org', 'Bo', 'FR', '2024-03-04');
insert into raw.orders (order_id, customer_id, order_date, status, channel) values
    (1, 1, '2024-02-01', 'placed', 'web'), (2, 2, '2024-03-05', 'shipped', 'store');
insert into raw.sales (sale_id, order_id, product_id, sku, quantity, unit_price, discount, sold_at) values
    (1, 1, 1, 'SKU-1', 3, 2.50, 0, '2024-02-01 10:00+00'),
    (2, 2, 2, 'SKU-2', 1, 30.00, 5, '2024-03-05 12:00+00');
";

/// Rows that pass every test: each customer has orders that are not all
/// cancelled, every category is in the seed.
fn many_rows(sales: i64) -> String {
    let customers = (sales / 25).max(10);
    let orders = (sales / 5).max(10);
    format!(
        "
insert into raw.products (product_id, sku, name, category, unit_price)
select g, 'SKU-' || g, 'Product ' || g,
       (array['BOOK','ELEC','HOME','TOYS','GROC','APPL'])[1 + g % 6], (g % 100) + 0.99
from generate_series(1, 1000) g;
insert into raw.customers (customer_id, email, full_name, country_code, signup_date)
select g, 'c' || g || '@example.org', 'Customer ' || g, 'DE', date '2020-01-01' + (g % 1000)
from generate_series(1, {customers}) g;
insert into raw.orders (order_id, customer_id, order_date, status, channel)
select g, 1 + g % {customers}, date '2023-01-01' + (g % 600),
       (array['placed','shipped','delivered','cancelled','returned','placed','shipped'])[1 + g % 7],
       'web'
from generate_series(1, {orders}) g;
insert into raw.sales (sale_id, order_id, product_id, sku, quantity, unit_price, discount, sold_at)
select g, 1 + g % {orders}, 1 + g % 1000, 'SKU-' || (1 + g % 1000), 1 + g % 5,
       ((1 + g % 1000) % 100) + 0.99, 0,
       timestamptz '2023-01-01 00:00+00' + (g % 600) * interval '1 day'
from generate_series(1, {sales}) g;
analyze;
"
    )
}

/// One psql session running the steps in the order the apply ran them:
/// each data step in `begin` ... `commit`, each test query counted as
/// stackc counts it (`select count(*) from (<query>)`, which lets the
/// planner skip the columns: running the raw query would be slower).
fn psql_script(artifacts: &Path, report: &serde_json::Value) -> (String, Vec<(String, bool)>) {
    let mut script = String::new();
    let mut files = Vec::new();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(artifacts.join("manifest.json")).unwrap())
            .unwrap();
    for item in report["items"].as_array().unwrap() {
        let file = artifacts.join(item["file"].as_str().unwrap());
        let path = file.display().to_string();
        if item["kind"] == "test" {
            // The same statement stackc sends: the failing rows of the
            // test's own query (a node's tests share one file) counted.
            let text = std::fs::read_to_string(&file).unwrap();
            let node = &manifest["nodes"][item["node"].as_str().unwrap()];
            let index = node["statement"].as_u64().unwrap_or(0) as usize;
            let statements = stackc::apply::statements::split(&text);
            let query = &text[statements[index].range.clone()];
            script.push_str(&format!(
                "select count(*) from (\n{}\n) as stackc_test;\n",
                query.trim_end().trim_end_matches(';')
            ));
        } else if item["transactional"] == false {
            // VACUUM cannot run inside a transaction; stackc runs it alone.
            script.push_str(&format!("\\i {path}\n"));
        } else {
            script.push_str(&format!("begin;\n\\i {path}\ncommit;\n"));
        }
        files.push((path, item["transactional"] != false));
    }
    (script, files)
}

#[test]
#[ignore = "a benchmark: run by hand with --ignored --nocapture"]
fn apply_benchmark() {
    let runs = 5;
    // 1. The no-op apply.
    let small = Db::new("noop");
    apply(&small);
    small.client().batch_execute(FEW_ROWS).unwrap();
    apply(&small);
    let noop = median(
        (0..runs)
            .map(|_| {
                time(|| {
                    let report = apply(&small);
                    assert_eq!(report["summary"]["migrations"], 0);
                })
            })
            .collect(),
    );
    println!(
        "no-op apply of project_template: {:.1} ms (median of {runs})",
        ms(noop)
    );

    // 2. Overhead against psql over the same files.
    let sales: i64 = std::env::var("STACKC_BENCH_SALES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500_000);
    let big = Db::new("data");
    apply(&big);
    big.client().batch_execute(&many_rows(sales)).unwrap();
    let report = apply(&big); // the first load
    let out = tempfile::tempdir().unwrap();
    let compiled = Command::new(env!("CARGO_BIN_EXE_stackc"))
        .args(["compile", template().to_str().unwrap(), "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(compiled.status.success());
    // Later applies take the incremental path; the psql script does too.
    let steady = apply(&big);
    let (script, files) = psql_script(out.path(), &steady);
    let script_path = out.path().join("bench.sql");
    std::fs::write(&script_path, script).unwrap();
    let _ = report;

    // Each run rewrites the marts (the incremental merge updates every row
    // in its lookback), so each timed run starts from a vacuumed database,
    // and the three take turns going first.
    let mut times: [Vec<Duration>; 3] = Default::default();
    let mut admin = big.client();
    for i in 0..runs {
        for k in 0..3 {
            let which = (i + k) % 3;
            admin.batch_execute("vacuum (analyze)").unwrap();
            let t = time(|| match which {
                0 => {
                    apply(&big);
                }
                1 => {
                    let status = big.psql().arg("-f").arg(&script_path).status().unwrap();
                    assert!(status.success());
                }
                _ => {
                    for (f, transactional) in &files {
                        let mut psql = big.psql();
                        if *transactional {
                            psql.arg("-1");
                        }
                        let status = psql.args(["-f", f]).status().unwrap();
                        assert!(status.success(), "{f}");
                    }
                }
            });
            times[which].push(t);
        }
    }
    let [stackc_times, psql_times, per_file_times] = times;
    let (s, p, pf) = (
        median(stackc_times),
        median(psql_times),
        median(per_file_times),
    );
    let overhead = (s.as_secs_f64() - p.as_secs_f64()) / p.as_secs_f64() * 100.0;
    println!(
        "{sales} order lines, {} steps: stackc apply {:.0} ms, one psql session {:.0} ms ({overhead:+.1} %), psql -1 -f per file {:.0} ms",
        files.len(),
        ms(s),
        ms(p),
        ms(pf)
    );
    assert!(noop < Duration::from_millis(100), "no-op apply {noop:?}");
    assert!(overhead < 5.0, "overhead {overhead:.1} %");
}
