//! The command line: parse arguments, run a command, print, and map the
//! outcome to an exit status (0 ok, 1 problems found, 2 usage or internal).

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::diagnostic::{self, Format, WarnError};
use crate::emit;

#[derive(Parser)]
#[command(
    name = "stackc",
    version,
    about = "Compile analytics projects for PostgreSQL into reviewable SQL artifacts"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check the project and write manifest.json, migrations/ and run/.
    Compile {
        /// The project folder (holds stackc.toml or dbt_project.yml).
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Where to write the artifacts [default: DIR/target; DIR/stackc_target
        /// in a dbt project, whose target/ is dbt's].
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        profile: ProfileArgs,
        /// Compare with OUT instead of writing; exit 1 when anything differs.
        #[arg(long)]
        check: bool,
        /// How to print diagnostics.
        #[arg(long, value_enum, default_value_t = FormatArg::Human)]
        format: FormatArg,
        /// Treat every warning as an error (as dbt's --warn-error).
        #[arg(long)]
        warn_error: bool,
        /// Which warnings are errors, in dbt's syntax with stackc's codes:
        /// '{"include": "all", "exclude": ["W0203"]}' or '{"include": ["W0050"]}'.
        #[arg(long, value_name = "JSON")]
        warn_error_options: Option<String>,
    },
    /// Apply the artifacts to PostgreSQL: pending migrations, then the run steps.
    Apply {
        #[command(flatten)]
        target: DatabaseTarget,
        /// Load incremental models from scratch (their full-load file).
        #[arg(long)]
        full_refresh: bool,
        /// Print what would run, in order and why; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Apply pending versions below the highest applied one.
        #[arg(long)]
        out_of_order: bool,
        /// Seconds to wait for another apply's lock before giving up.
        #[arg(long, value_name = "SECS", default_value_t = 60)]
        lock_timeout: u64,
        /// Progress always goes to stderr; `json` also writes a report to stdout.
        #[arg(long, value_enum, default_value_t = crate::apply::report::ReportFormat::Human)]
        format: crate::apply::report::ReportFormat,
    },
    /// Run the tests of the artifacts against the database as it is.
    Test {
        #[command(flatten)]
        target: DatabaseTarget,
        /// Run the unit tests (fixture inputs, expected rows; rolled back)
        /// instead of the data tests.
        #[arg(long)]
        unit: bool,
        /// Progress always goes to stderr; `json` also writes a report to stdout.
        #[arg(long, value_enum, default_value_t = crate::apply::report::ReportFormat::Human)]
        format: crate::apply::report::ReportFormat,
    },
}

/// dbt's profile flags: which target of profiles.yml a dbt project uses.
#[derive(Args, Clone, Default)]
struct ProfileArgs {
    /// The profiles.yml target [default: the profile's `target:`].
    #[arg(short = 't', long)]
    target: Option<String>,
    /// The folder that holds profiles.yml [default: DBT_PROFILES_DIR, else
    /// the project folder, else ~/.dbt].
    #[arg(long, value_name = "DIR")]
    profiles_dir: Option<PathBuf>,
}

impl ProfileArgs {
    fn options(&self) -> crate::project::LoadOptions {
        crate::project::LoadOptions {
            profiles_dir: self.profiles_dir.clone(),
            target: self.target.clone(),
        }
    }
}

/// What `apply` and `test` run, and where.
#[derive(Args)]
struct DatabaseTarget {
    /// The project folder (holds stackc.toml).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Use these committed artifacts (verified against their manifest.json)
    /// instead of compiling DIR.
    #[arg(long, value_name = "OUT")]
    artifacts: Option<PathBuf>,
    /// Connection URL [default: the variable named by [connection] url_env,
    /// else DATABASE_URL, else PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE/PGSSLMODE;
    /// each also read from DIR/.env].
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Human,
    Json,
    Github,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Human => Format::Human,
            FormatArg::Json => Format::Json,
            FormatArg::Github => Format::Github,
        }
    }
}

pub fn run(args: impl IntoIterator<Item = OsString>) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match cli.command {
        Command::Compile {
            dir,
            out,
            profile,
            check,
            format,
            warn_error,
            warn_error_options,
        } => {
            let mut promote = match warn_error_options.as_deref().map(WarnError::parse_options) {
                None => WarnError::default(),
                Some(Ok(w)) => w,
                Some(Err(problem)) => {
                    eprintln!("error: invalid --warn-error-options: {problem}");
                    return 2;
                }
            };
            promote.all |= warn_error;
            compile(
                &dir,
                out,
                &profile.options(),
                check,
                format.into(),
                &promote,
            )
        }
        Command::Apply {
            target:
                DatabaseTarget {
                    dir,
                    artifacts,
                    database_url,
                },
            full_refresh,
            dry_run,
            out_of_order,
            lock_timeout,
            format,
        } => {
            // Single-threaded here, as that function requires.
            crate::apply::connect::skip_system_ca_bundle();
            crate::apply::apply(&crate::apply::ApplyOptions {
                dir,
                artifacts,
                database_url,
                full_refresh,
                dry_run,
                out_of_order,
                lock_timeout: std::time::Duration::from_secs(lock_timeout),
                format,
            })
        }
        Command::Test {
            target:
                DatabaseTarget {
                    dir,
                    artifacts,
                    database_url,
                },
            unit,
            format,
        } => {
            crate::apply::connect::skip_system_ca_bundle();
            crate::apply::test(&crate::apply::TestOptions {
                dir,
                artifacts,
                database_url,
                unit,
                format,
            })
        }
    }
}

fn use_color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

fn compile(
    dir: &Path,
    out: Option<PathBuf>,
    options: &crate::project::LoadOptions,
    check: bool,
    format: Format,
    promote: &WarnError,
) -> u8 {
    let out = out.unwrap_or_else(|| crate::project::default_out(dir));
    if same_folder(&out, dir) {
        eprintln!("error: --out must not be the project folder itself (it would overwrite migrations/); use e.g. --out {}", dir.join("target").display());
        return 2;
    }
    // The output folder is listed while the project is checked.
    let (mut compilation, existing) = rayon::join(
        || crate::analyze_with(dir, options),
        || emit::existing_paths(&out),
    );
    promote.apply(&mut compilation.diagnostics);
    let printed = diagnostic::render(
        &compilation.diagnostics,
        &compilation.files,
        format,
        format == Format::Human && use_color(),
    );
    match format {
        Format::Human => eprint!("{printed}"),
        Format::Json | Format::Github => print!("{printed}"),
    }
    let parse_cache = compilation.parse_cache;
    // Only a cache: a project folder that cannot take it (read-only)
    // compiles as well, parsing everything each time. `--check` writes
    // nothing, and a folder that is not a project gets no cache.
    let save_cache = (!check && compilation.project.is_some()).then_some(&parse_cache);
    let save = || save_cache.map(|cache| cache.save(dir));
    let failed = compilation
        .diagnostics
        .iter()
        .any(diagnostic::Diagnostic::is_error);
    let (Some(project), Some(resolved), false) =
        (compilation.project, compilation.resolved, failed)
    else {
        let _ = save();
        return 1;
    };
    let summary = compilation
        .summary
        .map(|s| {
            format!(
                "{} models, {} tests, {} seeds, {} sources, {} migrations",
                s.models, s.tests, s.seeds, s.sources, s.migrations
            )
        })
        .unwrap_or_default();
    if check {
        let staleness = match existing.and_then(|e| emit::check(&out, e, &project, &resolved)) {
            Ok(staleness) => staleness,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", out.display());
                return 2;
            }
        };
        if staleness.is_clean() {
            if format == Format::Human {
                eprintln!("{} is up to date ({summary})", out.display());
            }
            std::mem::forget((project, resolved, compilation.files, parse_cache));
            return 0;
        }
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "error: the artifacts in {} are not what the project compiles to:",
            out.display()
        );
        for (label, paths) in [
            ("stale", &staleness.stale),
            ("missing", &staleness.missing),
            ("extra", &staleness.extra),
        ] {
            for p in paths {
                let _ = writeln!(err, "  {label:<8} {}", out.join(p).display());
            }
        }
        let _ = writeln!(
            err,
            "help: run `stackc compile {} --out {}` and commit the result",
            dir.display(),
            out.display()
        );
        return 1;
    }
    let (_, written) = rayon::join(save, || {
        existing.and_then(|e| emit::write(&out, e, &project, &resolved))
    });
    if let Err(e) = written {
        eprintln!(
            "error: cannot write the artifacts to {}: {e}",
            out.display()
        );
        return 2;
    }
    if format == Format::Human {
        eprintln!("compiled {summary} into {}", out.display());
    }
    // The process exits next: freeing a large project's many small
    // allocations one by one takes longer than the rest of the output step.
    std::mem::forget((project, resolved, compilation.files, parse_cache));
    0
}

fn same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
