//! Benchmark of `stackc compile` on synthetic projects.
//!
//! ```text
//! cargo build --release
//! cargo run --release --example bench -- [--sizes 100,1000,10000] [--keep DIR] [--bin PATH]
//! cargo run --example bench -- --generate-only DIR [--sizes 100]
//! cargo run --release --example bench -- --dbt [--tests 5000] [--dbt-bin /opt/dbtvenv/bin/dbt]
//! ```
//!
//! For each size N it writes a project of N models (sources -> staging -> intermediate ->
//! marts), runs `stackc compile <project> --out <project>/target` once cold and three times
//! warm, and prints wall time and the child's peak RSS (from `wait4`). The generated project
//! is the same on every run: choices come from a small xorshift seeded with the model index.
//! See `docs/benchmark.md`.

use std::fmt;
use std::fs;
use std::io::{self, BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::time::{Duration, Instant};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const USAGE: &str = "\
usage: cargo run --release --example bench -- [OPTIONS]

options:
  --sizes N,N,...        project sizes in models (default 100,1000,10000; each >= 3)
  --keep DIR             write the projects to DIR/bench-N and keep them
  --bin PATH             stackc binary (default target/release/stackc)
  --generate-only DIR    write a project of the first size into DIR and exit
  --dbt                  dbt projects (dbt_project.yml, profiles.yml, no migrations) of
                         default size 200, with --tests schema-file tests
  --tests N              schema-file tests of a --dbt project (default 5000; at least 3 a model)
  --dbt-bin PATH         with --dbt, also time `PATH parse` on each project, in the same run
  -h, --help             print this help";

const DEFAULT_SIZES: [usize; 3] = [100, 1_000, 10_000];
const DEFAULT_DBT_SIZE: usize = 200;
const DEFAULT_DBT_TESTS: usize = 5_000;
const WARM_RUNS: usize = 3;
const STDERR_LINES_SHOWN: usize = 40;
/// Raw tables per migration file.
const TABLES_PER_MIGRATION: usize = 50;
const STATUSES: [&str; 4] = ["pending", "completed", "cancelled", "refunded"];
const CUSTOMER_STATUSES: [&str; 3] = ["active", "lapsed", "churned"];
const IS_INCREMENTAL: &str = "{% if is_incremental() %}";
const END_IF: &str = "{% endif %}";

fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("bench: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench: {error}");
            ExitCode::from(2)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Command line

struct Options {
    sizes: Vec<usize>,
    keep: Option<PathBuf>,
    bin: PathBuf,
    generate_only: Option<PathBuf>,
    help: bool,
    /// `Some(total schema-file tests)` for dbt projects.
    dbt: Option<usize>,
    dbt_bin: Option<PathBuf>,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> std::result::Result<Options, String> {
        let mut options = Options {
            sizes: DEFAULT_SIZES.to_vec(),
            keep: None,
            bin: Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/stackc"),
            generate_only: None,
            help: false,
            dbt: None,
            dbt_bin: None,
        };
        let mut sizes_given = false;
        let mut tests = DEFAULT_DBT_TESTS;
        let mut dbt = false;
        while let Some(arg) = args.next() {
            // Accept both `--flag value` and `--flag=value`.
            let (flag, inline_value) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => (flag.to_owned(), Some(value)),
                _ => (arg.clone(), None),
            };
            if flag == "-h" || flag == "--help" {
                options.help = true;
                continue;
            }
            if flag == "--dbt" {
                dbt = true;
                continue;
            }
            let value = match inline_value {
                Some(value) => value.to_owned(),
                None => args.next().ok_or_else(|| format!("{flag} needs a value"))?,
            };
            match flag.as_str() {
                "--sizes" => {
                    options.sizes = parse_sizes(&value)?;
                    sizes_given = true;
                }
                "--tests" => {
                    tests = value
                        .trim()
                        .replace('_', "")
                        .parse()
                        .map_err(|_| format!("bad --tests `{value}`: want a whole number"))?;
                }
                "--dbt-bin" => options.dbt_bin = Some(PathBuf::from(value)),
                "--keep" => options.keep = Some(PathBuf::from(value)),
                "--bin" => options.bin = PathBuf::from(value),
                "--generate-only" => options.generate_only = Some(PathBuf::from(value)),
                _ => return Err(format!("unknown argument `{arg}`")),
            }
        }
        if dbt {
            if !sizes_given {
                options.sizes = vec![DEFAULT_DBT_SIZE];
            }
            if let Some(&small) = options.sizes.iter().find(|&&n| tests < 3 * n) {
                return Err(format!(
                    "--tests {tests} is fewer than 3 a model for {small} models"
                ));
            }
            options.dbt = Some(tests);
        } else if options.dbt_bin.is_some() {
            return Err("--dbt-bin needs --dbt".to_owned());
        }
        Ok(options)
    }
}

fn parse_sizes(value: &str) -> std::result::Result<Vec<usize>, String> {
    let sizes = value
        .split(',')
        .map(|size| {
            let size = size.trim().replace('_', "");
            match size.parse::<usize>() {
                Ok(n) if n >= 3 => Ok(n),
                _ => Err(format!(
                    "bad size `{size}` in --sizes: want a whole number >= 3"
                )),
            }
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(sizes)
}

// ---------------------------------------------------------------------------------------------
// Driver

fn run(options: &Options) -> Result<()> {
    if options.help {
        println!("{USAGE}");
        return Ok(());
    }
    if let Some(dir) = &options.generate_only {
        let models = options.sizes[0]; // parse_sizes never returns an empty list
        let files = write_project(dir, models, options.dbt)?;
        println!("wrote {models} models ({files} files) to {}", dir.display());
        return Ok(());
    }
    if !options.bin.is_file() {
        return Err(format!(
            "no stackc binary at {}: build it with `cargo build --release`, or pass --bin PATH",
            options.bin.display()
        )
        .into());
    }

    // The workspace holds one project per size and the captured stderr of each run.
    let temp;
    let workspace = match &options.keep {
        Some(dir) => {
            fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            dir.clone()
        }
        None => {
            // Removed when `temp` is dropped at the end of this function.
            temp = tempfile::Builder::new()
                .prefix("stackc-bench-")
                .tempdir_in(std::env::temp_dir())?;
            temp.path().to_path_buf()
        }
    };

    eprintln!(
        "stackc: {}\nworkspace: {}\ncpus: {}",
        options.bin.display(),
        workspace.display(),
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    );
    let mut rows = Vec::new();
    let mut dbt_rows = Vec::new();
    let kind = if options.dbt.is_some() { "dbt-" } else { "" };
    for &models in &options.sizes {
        let project = workspace.join(format!("bench-{kind}{models}"));
        eprint!("{models} models: generating...");
        let files = write_project(&project, models, options.dbt)?;
        eprint!(" running");
        let stderr_log = workspace.join(format!("bench-{kind}{models}.stderr"));
        let out = project.join(if options.dbt.is_some() {
            "stackc_target"
        } else {
            "target"
        });
        let runs = measure(&stackc_compile(&options.bin, &project, &out), &stderr_log)?;
        rows.push(Row::new(models, files, &runs));
        if let Some(dbt) = &options.dbt_bin {
            eprint!("; dbt parse");
            let log = workspace.join(format!("bench-{kind}{models}.dbt.stderr"));
            dbt_rows.push(Row::new(
                models,
                files,
                &measure(&dbt_parse(dbt, &project), &log)?,
            ));
        }
        eprintln!(" done");
    }
    if options.dbt.is_some() {
        println!("stackc compile:\n");
    }
    print_table(&rows);
    if !dbt_rows.is_empty() {
        println!("\ndbt parse (cold: no target/; warm: dbt's partial parse):\n");
        print_table(&dbt_rows);
    }
    if options.keep.is_some() {
        eprintln!("projects kept in {}", workspace.display());
    }
    Ok(())
}

/// One cold and `WARM_RUNS` warm runs of `stackc compile`. The first failing run's stderr is
/// printed; the others are still timed so the table stays complete.
fn measure(command: &Measured, stderr_log: &Path) -> Result<Vec<Run>> {
    // The cold run starts without the tool's own output; the bench writes none there.
    if command.out.exists() {
        fs::remove_dir_all(&command.out).map_err(|e| format!("{}: {e}", command.out.display()))?;
    }
    let mut runs = Vec::new();
    let mut shown_failure = false;
    for _ in 0..=WARM_RUNS {
        let run = run_once(command, stderr_log)?;
        eprint!(" {:.0}ms", ms(run.wall));
        if !run.status.success() && !shown_failure {
            shown_failure = true;
            eprintln!(
                "\nstackc exited with {}; first lines of its stderr:",
                describe(run.status)
            );
            print_head(stderr_log, STDERR_LINES_SHOWN)?;
        }
        runs.push(run);
    }
    Ok(runs)
}

struct Run {
    wall: Duration,
    /// User plus system time of the child: steadier than wall time on a
    /// shared machine, and what two cores divide between them.
    cpu: Duration,
    max_rss_kib: u64,
    status: ExitStatus,
}

/// A command to time, and the folder it writes (removed before its cold run).
struct Measured {
    program: PathBuf,
    args: Vec<std::ffi::OsString>,
    out: PathBuf,
}

fn stackc_compile(bin: &Path, project: &Path, out: &Path) -> Measured {
    Measured {
        program: bin.to_path_buf(),
        args: vec!["compile".into(), project.into(), "--out".into(), out.into()],
        out: out.to_path_buf(),
    }
}

/// dbt parse with the generated `profiles.yml`; it writes `target/` and `logs/`.
fn dbt_parse(dbt: &Path, project: &Path) -> Measured {
    Measured {
        program: dbt.to_path_buf(),
        args: vec![
            "parse".into(),
            "--project-dir".into(),
            project.into(),
            "--profiles-dir".into(),
            project.into(),
        ],
        out: project.join("target"),
    }
}

fn run_once(command: &Measured, stderr_log: &Path) -> Result<Run> {
    let stderr =
        fs::File::create(stderr_log).map_err(|e| format!("{}: {e}", stderr_log.display()))?;
    let start = Instant::now();
    let bin = &command.program;
    let child = Command::new(bin)
        .args(&command.args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    // `child` is reaped by wait4 below and is never waited on through std afterwards.
    let (status, usage) = wait_with_rusage(child.id())?;
    let wall = start.elapsed();
    let max_rss = u64::try_from(usage.ru_maxrss).unwrap_or(0); // never negative in practice
    Ok(Run {
        wall,
        cpu: duration_of(usage.ru_utime) + duration_of(usage.ru_stime),
        max_rss_kib: max_rss / MAXRSS_PER_KIB,
        status,
    })
}

fn duration_of(time: libc::timeval) -> Duration {
    // Never negative for a child's usage; a negative field reads as zero.
    let secs = u64::try_from(time.tv_sec).unwrap_or(0);
    let micros = u64::try_from(time.tv_usec).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(micros)
}

/// `ru_maxrss` is in kilobytes on Linux and the BSDs, in bytes on macOS.
#[cfg(target_os = "macos")]
const MAXRSS_PER_KIB: u64 = 1024;
#[cfg(not(target_os = "macos"))]
const MAXRSS_PER_KIB: u64 = 1;

/// Waits for child `pid` and returns its exit status and resource usage (peak RSS included).
fn wait_with_rusage(pid: u32) -> io::Result<(ExitStatus, libc::rusage)> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::other("pid out of range"))?;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is a plain C struct of integers, for which all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own child, not yet reaped, and both pointers are valid for
        // writes for the duration of the call.
        let reaped = unsafe { libc::wait4(pid, &raw mut status, 0, &raw mut usage) };
        if reaped == pid {
            return Ok((ExitStatus::from_raw(status), usage));
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

fn print_head(path: &Path, lines: usize) -> Result<()> {
    let file = fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    for line in BufReader::new(file).lines().take(lines) {
        eprintln!("    {}", line?);
    }
    Ok(())
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => code.to_string(),
        (None, Some(signal)) => format!("signal {signal}"),
        (None, None) => "?".to_owned(),
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------------------------
// Report

struct Row {
    models: usize,
    files: usize,
    cold_ms: f64,
    cold_cpu_ms: f64,
    median_ms: f64,
    /// CPU time of the warm run with the median wall time.
    median_cpu_ms: f64,
    peak_rss_mib: f64,
    /// Distinct exit statuses of the runs, in order of first appearance.
    exit: String,
}

impl Row {
    /// `runs` holds the cold run first, then the warm runs.
    fn new(models: usize, files: usize, runs: &[Run]) -> Row {
        let mut warm: Vec<&Run> = runs[1..].iter().collect();
        warm.sort_by_key(|run| run.wall);
        let median = warm[warm.len() / 2];
        let mut exits: Vec<String> = Vec::new();
        for run in runs {
            let exit = describe(run.status);
            if !exits.contains(&exit) {
                exits.push(exit);
            }
        }
        let peak_kib = runs.iter().map(|run| run.max_rss_kib).max().unwrap_or(0);
        Row {
            models,
            files,
            cold_ms: ms(runs[0].wall),
            cold_cpu_ms: ms(runs[0].cpu),
            median_ms: ms(median.wall),
            median_cpu_ms: ms(median.cpu),
            peak_rss_mib: peak_kib as f64 / 1024.0,
            exit: exits.join(","),
        }
    }
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "| {:>6} | {:>5} | {:>7.1} | {:>11.1} | {:>9.1} | {:>13.1} | {:>11.1} | {:<4} |",
            self.models,
            self.files,
            self.cold_ms,
            self.cold_cpu_ms,
            self.median_ms,
            self.median_cpu_ms,
            self.peak_rss_mib,
            self.exit
        )
    }
}

/// A Markdown table, ready to paste into `docs/benchmark.md`.
fn print_table(rows: &[Row]) {
    println!("| models | files | cold ms | cold CPU ms | median ms | median CPU ms | peak RSS MB | exit |");
    println!("|-------:|------:|--------:|------------:|----------:|--------------:|------------:|:-----|");
    for row in rows {
        println!("{row}");
    }
}

// ---------------------------------------------------------------------------------------------
// Project generator

/// Writes a project of `models` models into `dir` (which must be absent or empty) and returns
/// the number of files written.
fn write_project(dir: &Path, models: usize, dbt_tests: Option<usize>) -> Result<usize> {
    let not_empty = fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some());
    if not_empty {
        return Err(format!("{} exists and is not empty", dir.display()).into());
    }
    let files = match dbt_tests {
        Some(tests) => dbt_project_files(models, tests),
        None => project_files(models),
    };
    for (relative, contents) in &files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        fs::write(&path, contents).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(files.len())
}

/// Xorshift64: deterministic choices without the `rand` crate.
struct XorShift(u64);

impl XorShift {
    fn new(seed: usize) -> XorShift {
        // Spread neighbouring seeds apart; the state must never be zero.
        XorShift((seed as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n`; `n` must not be zero.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// How the models of a project are split into layers. Models are numbered globally: first
/// the staging models, then the intermediate ones, then the marts; a model only refers to
/// models with a lower number, so the refs form a DAG.
struct Layout {
    raw_tables: usize,
    staging: usize,
    intermediate: usize,
    marts: usize,
}

impl Layout {
    fn new(models: usize) -> Layout {
        let staging = ((3 * models + 5) / 10).max(1);
        let intermediate = ((4 * models + 5) / 10).max(1);
        Layout {
            raw_tables: (models / 20).max(4),
            staging,
            intermediate,
            marts: models.saturating_sub(staging + intermediate).max(1),
        }
    }

    fn first_intermediate(&self) -> usize {
        self.staging
    }

    fn first_mart(&self) -> usize {
        self.staging + self.intermediate
    }
}

fn raw_table(k: usize) -> String {
    format!("t_{k:04}")
}

fn staging_name(index: usize) -> String {
    format!("stg_{index:05}")
}

fn intermediate_name(index: usize) -> String {
    format!("int_{index:05}")
}

/// Name of an upstream model (staging or intermediate) by its global number.
fn upstream_name(layout: &Layout, index: usize) -> String {
    if index < layout.first_intermediate() {
        staging_name(index)
    } else {
        intermediate_name(index)
    }
}

fn jinja_ref(model: &str) -> String {
    format!("{{{{ ref('{model}') }}}}")
}

/// Every file of the project, as (path relative to the project root, contents).
fn project_files(models: usize) -> Vec<(String, String)> {
    let layout = Layout::new(models);
    let mut files = vec![
        ("stackc.toml".to_owned(), stackc_toml()),
        ("macros/cents.sql".to_owned(), CENTS_MACRO.to_owned()),
        (
            "models/staging/_sources.yml".to_owned(),
            sources_yml(&layout),
        ),
    ];
    files.extend(migrations(&layout));

    let mut staging_schema = SchemaFile::default();
    for index in 0..layout.staging {
        let name = staging_name(index);
        let table = raw_table(index % layout.raw_tables);
        let description = format!("Orders from raw.{table}, cleaned and cast.");
        staging_schema.model(&name, &description, &STATUSES);
        files.push((
            format!("models/staging/{name}.sql"),
            staging_sql(&name, &table),
        ));
    }

    let mut intermediate_schema = SchemaFile::default();
    for index in layout.first_intermediate()..layout.first_mart() {
        let name = intermediate_name(index);
        let sql = intermediate_sql(&layout, index);
        let description = "Orders enriched with per-customer figures.";
        intermediate_schema.model(&name, description, &STATUSES);
        files.push((format!("models/intermediate/{name}.sql"), sql));
    }

    let mut marts_schema = SchemaFile::default();
    for index in layout.first_mart()..layout.first_mart() + layout.marts {
        let mart = mart(&layout, index);
        marts_schema.model(&mart.name, mart.description, mart.statuses);
        files.push((format!("models/marts/{}.sql", mart.name), mart.sql));
    }

    files.push(("models/staging/_schema.yml".to_owned(), staging_schema.yaml));
    files.push((
        "models/intermediate/_schema.yml".to_owned(),
        intermediate_schema.yaml,
    ));
    files.push(("models/marts/_schema.yml".to_owned(), marts_schema.yaml));
    files
}

/// The same models in a dbt project: `dbt_project.yml` instead of `stackc.toml`, a
/// `profiles.yml` (dbt parse reads it and never connects), no migrations, and `tests`
/// schema-file tests spread over the models.
fn dbt_project_files(models: usize, tests: usize) -> Vec<(String, String)> {
    let layout = Layout::new(models);
    let mut files = vec![
        ("dbt_project.yml".to_owned(), DBT_PROJECT.to_owned()),
        ("profiles.yml".to_owned(), DBT_PROFILES.to_owned()),
        ("macros/cents.sql".to_owned(), CENTS_MACRO.to_owned()),
        (
            "models/staging/_sources.yml".to_owned(),
            sources_yml(&layout),
        ),
    ];
    let mut names = Vec::new();
    for index in 0..layout.staging {
        let name = staging_name(index);
        let table = raw_table(index % layout.raw_tables);
        files.push((
            format!("models/staging/{name}.sql"),
            staging_sql(&name, &table),
        ));
        names.push(("staging", name, true));
    }
    for index in layout.first_intermediate()..layout.first_mart() {
        let name = intermediate_name(index);
        let sql = intermediate_sql(&layout, index);
        files.push((format!("models/intermediate/{name}.sql"), sql));
        names.push(("intermediate", name, true));
    }
    for index in layout.first_mart()..layout.first_mart() + layout.marts {
        let mart = mart(&layout, index);
        files.push((format!("models/marts/{}.sql", mart.name), mart.sql));
        names.push(("marts", mart.name, !mart.statuses.is_empty()));
    }
    let mut schemas: Vec<(&str, String)> = ["staging", "intermediate", "marts"]
        .into_iter()
        .map(|layer| (layer, "version: 2\n\nmodels:\n".to_owned()))
        .collect();
    for (i, (layer, _, has_status)) in names.iter().enumerate() {
        // The first `tests % models` models take one test more.
        let count = tests / models + usize::from(i < tests % models);
        let yaml = &mut schemas
            .iter_mut()
            .find(|(l, _)| l == layer)
            .expect("every layer has a schema file") // the three layers above
            .1;
        dbt_schema_model(yaml, &names, i, *has_status, count);
    }
    for (layer, yaml) in schemas {
        files.push((format!("models/{layer}/_schema.yml"), yaml));
    }
    files
}

const DBT_PROJECT: &str = "\
# Synthetic dbt project written by examples/bench.rs.
name: bench
version: '1.0'
config-version: 2
profile: bench

vars:
  lookback_days: 3

models:
  bench:
    staging:
      +materialized: view
    intermediate:
      +materialized: view
    marts:
      +materialized: table
";

const DBT_PROFILES: &str = "\
bench:
  target: dev
  outputs:
    dev:
      type: postgres
      host: 127.0.0.1
      port: 5432
      user: postgres
      password: ''
      dbname: bench
      schema: public
      threads: 4
";

/// One model's entry with `count` (at least 3) tests: `id` not null and unique, `customer_id`
/// not null, `status` in an accepted list where the model has one, then `relationships` from
/// `customer_id` to other models, each a different one, so that every test has its own name.
fn dbt_schema_model(
    yaml: &mut String,
    names: &[(&str, String, bool)],
    index: usize,
    has_status: bool,
    count: usize,
) {
    let name = &names[index].1;
    yaml.push_str(&format!(
        "  - name: {name}
    description: \"Model {index} of the synthetic dbt project.\"
    columns:
      - name: id
        data_tests:
          - not_null
          - unique
"
    ));
    let mut left = count - 2;
    if has_status && left > 1 {
        let values: Vec<String> = STATUSES.iter().map(|s| format!("'{s}'")).collect();
        yaml.push_str(&format!(
            "      - name: status
        data_tests:
          - accepted_values:
              arguments:
                values: [{}]
",
            values.join(", ")
        ));
        left -= 1;
    }
    yaml.push_str(
        "      - name: customer_id
        data_tests:
          - not_null
",
    );
    left -= 1;
    // Other models in a fixed stride, so that the targets differ and are spread out.
    for step in 1..=left {
        let other = &names[(index + step * 7) % names.len()].1;
        let other = if other == name {
            &names[(index + 1) % names.len()].1
        } else {
            other
        };
        yaml.push_str(&format!(
            "          - relationships:
              arguments:
                to: ref('{other}')
                field: customer_id
"
        ));
    }
}

fn stackc_toml() -> String {
    "\
# Synthetic project written by examples/bench.rs.
[project]
name = \"bench\"

[models.staging]
materialized = \"view\"

[models.intermediate]
materialized = \"view\"

[models.marts]
materialized = \"table\"

[vars]
lookback_days = 3
"
    .to_owned()
}

const CENTS_MACRO: &str = "{% macro cents(col) %}round(({{ col }})::numeric, 2){% endmacro %}\n";

/// Raw tables in migration files of at most `TABLES_PER_MIGRATION` tables each, versioned
/// V1, V1.1, V2, V2.1, ...
fn migrations(layout: &Layout) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let tables: Vec<usize> = (0..layout.raw_tables).collect();
    for (part, chunk) in tables.chunks(TABLES_PER_MIGRATION).enumerate() {
        let (major, minor) = (part / 2 + 1, part % 2);
        let name = match (part, minor) {
            (0, _) => "V1__raw.sql".to_owned(),
            (_, 0) => format!("V{major}__raw_part_{}.sql", part + 1),
            _ => format!("V{major}.{minor}__raw_part_{}.sql", part + 1),
        };
        let mut sql = format!(
            "-- Raw tables {} to {} of {}.\n",
            chunk[0],
            chunk[chunk.len() - 1],
            layout.raw_tables
        );
        if part == 0 {
            sql.push_str("create schema if not exists raw;\n");
        }
        for &k in chunk {
            sql.push_str(&format!(
                "
create table raw.{} (
    id bigint primary key,
    customer_id bigint,
    amount numeric(12, 2) check (amount >= 0),
    status text,
    created_at timestamptz
);
",
                raw_table(k)
            ));
        }
        files.push((format!("migrations/{name}"), sql));
    }
    files
}

fn sources_yml(layout: &Layout) -> String {
    let mut yaml = "\
version: 2

sources:
  - name: raw
    schema: raw
    description: Raw orders, loaded by the versioned migrations.
    tables:
"
    .to_owned();
    for k in 0..layout.raw_tables {
        yaml.push_str(&format!("      - name: {}\n", raw_table(k)));
    }
    yaml
}

/// A `_schema.yml` under construction.
struct SchemaFile {
    yaml: String,
}

impl Default for SchemaFile {
    fn default() -> SchemaFile {
        SchemaFile {
            yaml: "version: 2\n\nmodels:\n".to_owned(),
        }
    }
}

impl SchemaFile {
    /// Adds a model with tests on `id` and, when `statuses` is not empty, on `status`.
    fn model(&mut self, name: &str, description: &str, statuses: &[&str]) {
        self.yaml.push_str(&format!(
            "  - name: {name}
    description: {description}
    columns:
      - name: id
        tests: [not_null, unique]
"
        ));
        if !statuses.is_empty() {
            let values: Vec<String> = statuses.iter().map(|s| format!("'{s}'")).collect();
            self.yaml.push_str(&format!(
                "      - name: status
        tests:
          - accepted_values:
              values: [{}]
",
                values.join(", ")
            ));
        }
    }
}

fn staging_sql(name: &str, table: &str) -> String {
    format!(
        "\
-- {name}: orders from raw.{table}, cleaned and cast.
-- One row per order; amounts rounded to cents, statuses lower-cased.

with source as (

    select * from {{{{ source('raw', '{table}') }}}}

),

renamed as (

    select
        id,
        customer_id,
        {{{{ cents('amount') }}}} as amount,
        lower(status) as status,
        created_at::date as created_date
    from source
    where status is not null

)

select * from renamed
"
    )
}

/// An intermediate model: one base model whose rows it keeps (numbered by recency within each
/// customer) and up to two more models aggregated per customer and left-joined.
fn intermediate_sql(layout: &Layout, index: usize) -> String {
    let mut rng = XorShift::new(index);
    let ref_count = match rng.below(20) {
        0..=7 => 1,
        8..=16 => 2,
        _ => 3,
    };
    let mut upstream: Vec<usize> = Vec::new();
    while upstream.len() < ref_count.min(index) {
        let candidate = rng.below(index);
        if !upstream.contains(&candidate) {
            upstream.push(candidate);
        }
    }
    let names: Vec<String> = upstream.iter().map(|&i| upstream_name(layout, i)).collect();
    // An optional second window function: (expression, column name).
    let extra_window = match rng.below(3) {
        0 => Some(("sum(amount)", "running_amount")),
        1 => Some(("lag(created_date)", "previous_created_date")),
        _ => None,
    };
    let recency_limit = [10, 50, 100, 1000][rng.below(4)];

    let mut sql = if names.len() == 1 {
        format!(
            "-- {}: orders of {}, ranked by recency per customer.\n\n",
            intermediate_name(index),
            names[0]
        )
    } else {
        format!(
            "-- {}: orders of {} with per-customer figures from {}.\n\n",
            intermediate_name(index),
            names[0],
            names[1..].join(" and ")
        )
    };
    sql.push_str(&format!(
        "\
with base as (
    select
        id,
        customer_id,
        amount,
        status,
        created_date,{}
        row_number() over (partition by customer_id order by created_date desc, id) as recency_rank
    from {}
    where created_date is not null
)",
        extra_window.map_or(String::new(), |(expression, column)| format!(
            "\n        {expression} over (partition by customer_id order by created_date, id) \
             as {column},"
        )),
        jinja_ref(&names[0])
    ));
    for (j, name) in names.iter().enumerate().skip(1) {
        sql.push_str(&format!(
            ",

customer_{j} as (
    select
        customer_id,
        count(*) filter (where status = 'completed') as completed_count,
        sum(amount) filter (where status <> 'cancelled') as net_amount
    from {}
    group by customer_id
)",
            jinja_ref(name)
        ));
    }
    sql.push_str(
        "

select
    b.id,
    b.customer_id,
    coalesce(b.amount, 0)::numeric(12, 2) as amount,
    b.status,
    b.created_date,
    b.recency_rank,\n",
    );
    if let Some((_, column)) = extra_window {
        sql.push_str(&format!("    b.{column},\n"));
    }
    for j in 1..names.len() {
        sql.push_str(&format!(
            "    coalesce(c{j}.completed_count, 0)::int as completed_count_{j},\n    \
             coalesce(c{j}.net_amount, 0)::numeric(14, 2) as net_amount_{j},\n"
        ));
    }
    sql.push_str(
        "    case
        when b.amount >= 500 then 'large'
        when b.amount >= 50 then 'medium'
        else 'small'
    end as amount_bucket
from base as b\n",
    );
    for j in 1..names.len() {
        sql.push_str(&format!(
            "left join customer_{j} as c{j} on c{j}.customer_id = b.customer_id\n"
        ));
    }
    sql.push_str(&format!("where b.recency_rank <= {recency_limit}\n"));
    sql
}

struct Mart {
    name: String,
    description: &'static str,
    statuses: &'static [&'static str],
    sql: String,
}

/// A mart over one or two intermediate models: either daily totals per customer (a third of
/// which are incremental with a lookback) or one row per customer.
fn mart(layout: &Layout, index: usize) -> Mart {
    let mut rng = XorShift::new(index);
    let first = layout.first_intermediate();
    let mut upstream = vec![first + rng.below(layout.intermediate)];
    if layout.intermediate > 1 && rng.chance(50) {
        let other = first + rng.below(layout.intermediate);
        if other != upstream[0] {
            upstream.push(other);
        }
    }
    let orders = upstream
        .iter()
        .map(|&i| {
            format!(
                "    select id, customer_id, amount, status, created_date\n    from {}\n",
                jinja_ref(&intermediate_name(i))
            )
        })
        .collect::<Vec<_>>()
        .join("    union all\n");
    let sources = upstream
        .iter()
        .map(|&i| intermediate_name(i))
        .collect::<Vec<_>>()
        .join(" and ");

    if rng.chance(50) {
        let name = format!("fct_{index:05}");
        let incremental = rng.chance(33);
        Mart {
            sql: daily_mart_sql(&name, &sources, &orders, incremental),
            name,
            description: "Daily order totals per customer.",
            statuses: &[],
        }
    } else {
        let name = format!("rpt_{index:05}");
        let min_orders = rng.below(3);
        Mart {
            sql: customer_mart_sql(&name, &sources, &orders, min_orders),
            name,
            description: "One row per customer with lifetime figures.",
            statuses: &CUSTOMER_STATUSES,
        }
    }
}

fn daily_mart_sql(name: &str, sources: &str, orders: &str, incremental: bool) -> String {
    let (config, kind, filter) = if incremental {
        (
            "{{ config(materialized='incremental', unique_key='id') }}\n\n",
            "incremental, re-processing the last `lookback_days` days",
            format!(
                "    {IS_INCREMENTAL}
    where created_date > (select max(created_date) - {{{{ var('lookback_days') }}}} from {{{{ this }}}})
    {END_IF}\n"
            ),
        )
    } else {
        ("", "rebuilt on every run", String::new())
    };
    format!(
        "\
{config}-- {name}: daily order totals per customer from {sources} ({kind}).

with orders as (
{orders}),

recent as (
    select *
    from orders
{filter})

select
    customer_id * 100000 + (created_date - date '2000-01-01') as id,
    customer_id,
    created_date,
    count(*) as order_count,
    count(*) filter (where status = 'completed') as completed_count,
    sum(amount)::numeric(14, 2) as total_amount,
    coalesce(sum(amount) filter (where status = 'refunded'), 0)::numeric(14, 2) as refunded_amount,
    round(avg(amount), 2) as avg_amount
from recent
group by customer_id, created_date
having count(*) > 0
"
    )
}

fn customer_mart_sql(name: &str, sources: &str, orders: &str, min_orders: usize) -> String {
    format!(
        "\
-- {name}: one row per customer from {sources}.

with orders as (
{orders}),

customers as (
    select
        customer_id,
        min(created_date) as first_order_date,
        max(created_date) as last_order_date,
        count(*) as order_count,
        count(*) filter (where status = 'completed') as completed_count,
        coalesce(sum(amount) filter (where status = 'completed'), 0) as lifetime_amount
    from orders
    where customer_id is not null
    group by customer_id
    having count(*) > {min_orders}
)

select
    customer_id as id,
    customer_id,
    first_order_date,
    last_order_date,
    order_count,
    completed_count,
    lifetime_amount::numeric(14, 2) as lifetime_amount,
    case
        when last_order_date >= current_date - 30 then 'active'
        when last_order_date >= current_date - 180 then 'lapsed'
        else 'churned'
    end as status
from customers
"
    )
}
