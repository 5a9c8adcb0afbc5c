//! The command line: parse arguments, run a command, print, and map the
//! outcome to an exit status (0 ok, 1 problems found, 2 usage or internal).

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::diagnostic::{self, ColorWhen, Format, WarnError};
use crate::emit;
use crate::exit_status::ExitStatus;

#[derive(Parser)]
#[command(
    name = "stackc",
    version,
    about = "Compile analytics projects for PostgreSQL into reviewable SQL artifacts"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Colour the output: auto colours a terminal (NO_COLOR turns it off,
    /// CLICOLOR_FORCE on).
    #[arg(long, global = true, value_enum, default_value_t = ColorArg::Auto)]
    color: ColorArg,
}

#[derive(Clone, Copy, ValueEnum)]
enum ColorArg {
    Auto,
    Always,
    Never,
}

impl From<ColorArg> for ColorWhen {
    fn from(c: ColorArg) -> ColorWhen {
        match c {
            ColorArg::Auto => ColorWhen::Auto,
            ColorArg::Always => ColorWhen::Always,
            ColorArg::Never => ColorWhen::Never,
        }
    }
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
        #[command(flatten)]
        warn_error: WarnErrorArgs,
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
        #[command(flatten)]
        warn_error: WarnErrorArgs,
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
        #[command(flatten)]
        warn_error: WarnErrorArgs,
    },
}

/// `--warn-error` and `--warn-error-options`, on every command that compiles.
#[derive(Args, Clone, Default)]
struct WarnErrorArgs {
    /// Treat every warning as an error (as dbt's --warn-error); on apply
    /// and test, a failing test of severity warn fails too.
    #[arg(long)]
    warn_error: bool,
    /// Which warnings are errors, in dbt's syntax with stackc's codes:
    /// '{"include": "all", "exclude": ["W0203"]}' or '{"include": ["W0050"]}'.
    #[arg(long, value_name = "JSON")]
    warn_error_options: Option<String>,
}

impl WarnErrorArgs {
    fn parse(&self) -> Result<WarnError, ExitStatus> {
        let mut promote = match self
            .warn_error_options
            .as_deref()
            .map(WarnError::parse_options)
        {
            None => WarnError::default(),
            Some(Ok(w)) => w,
            Some(Err(problem)) => {
                eprintln!("error: invalid --warn-error-options: {problem}");
                return Err(ExitStatus::Error);
            }
        };
        promote.all |= self.warn_error;
        Ok(promote)
    }
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
    #[command(flatten)]
    profile: ProfileArgs,
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

pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitStatus {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitStatus::Error
            } else {
                ExitStatus::Success
            };
        }
    };
    let color = ColorWhen::from(cli.color).for_stderr();
    match cli.command {
        Command::Compile {
            dir,
            out,
            profile,
            check,
            format,
            warn_error,
        } => {
            let promote = match warn_error.parse() {
                Ok(p) => p,
                Err(status) => return status,
            };
            compile(
                &dir,
                out,
                &profile.options(),
                check,
                format.into(),
                &promote,
                color,
            )
        }
        Command::Apply {
            target:
                DatabaseTarget {
                    dir,
                    artifacts,
                    database_url,
                    profile,
                },
            full_refresh,
            dry_run,
            out_of_order,
            lock_timeout,
            format,
            warn_error,
        } => {
            let promote = match warn_error.parse() {
                Ok(p) => p,
                Err(status) => return status,
            };
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
                color,
                load: profile.options(),
                promote,
            })
        }
        Command::Test {
            target:
                DatabaseTarget {
                    dir,
                    artifacts,
                    database_url,
                    profile,
                },
            unit,
            format,
            warn_error,
        } => {
            let promote = match warn_error.parse() {
                Ok(p) => p,
                Err(status) => return status,
            };
            crate::apply::connect::skip_system_ca_bundle();
            crate::apply::test(&crate::apply::TestOptions {
                dir,
                artifacts,
                database_url,
                unit,
                format,
                color,
                load: profile.options(),
                promote,
            })
        }
    }
}

fn compile(
    dir: &Path,
    out: Option<PathBuf>,
    options: &crate::project::LoadOptions,
    check: bool,
    format: Format,
    promote: &WarnError,
    color: bool,
) -> ExitStatus {
    let out = out.unwrap_or_else(|| crate::project::default_out(dir));
    if let Err(problem) = check_out(dir, &out, check) {
        eprintln!("error: {problem}");
        return ExitStatus::Error;
    }
    // The output folder is listed while the project is checked.
    let (mut compilation, listed) = rayon::join(
        || crate::analyze_with(dir, options),
        || emit::list_output(&out),
    );
    promote.apply(&mut compilation.diagnostics);
    let (existing, foreign) = match listed {
        Ok(listed) => (Ok(listed.owned), listed.foreign),
        Err(e) => (Err(e), Vec::new()),
    };
    let printed = diagnostic::render(
        &compilation.diagnostics,
        &compilation.files,
        format,
        format == Format::Human && color,
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
        return ExitStatus::Failure;
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
        mention_foreign(&out, &foreign);
        let staleness = match existing.and_then(|e| emit::check(&out, e, &project, &resolved)) {
            Ok(staleness) => staleness,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", out.display());
                return ExitStatus::Error;
            }
        };
        if staleness.is_clean() {
            if format == Format::Human {
                eprintln!("{} is up to date ({summary})", out.display());
            }
            std::mem::forget((project, resolved, compilation.files, parse_cache));
            return ExitStatus::Success;
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
        return ExitStatus::Failure;
    }
    mention_foreign(&out, &foreign);
    let (_, written) = rayon::join(save, || {
        existing.and_then(|e| emit::write(&out, e, &project, &resolved))
    });
    if let Err(e) = written {
        eprintln!(
            "error: cannot write the artifacts to {}: {e}",
            out.display()
        );
        return ExitStatus::Error;
    }
    if format == Format::Human {
        eprintln!("compiled {summary} into {}", out.display());
    }
    // The process exits next: freeing a large project's many small
    // allocations one by one takes longer than the rest of the output step.
    std::mem::forget((project, resolved, compilation.files, parse_cache));
    ExitStatus::Success
}

/// Files in the output folder that a compile did not write: left alone,
/// and said so, so that nobody wonders why they stay.
fn mention_foreign(out: &Path, foreign: &[String]) {
    for rel in foreign {
        eprintln!(
            "note: {} was not written by stackc: left alone",
            crate::diagnostic::one_line(&out.join(rel).display().to_string())
        );
    }
}

/// The rules that keep a compile from writing over (or removing) what it
/// did not write: OUT is not the project, not a folder that holds it, and
/// not inside one of the folders a compile reads (else the next compile
/// reads its own output); with `--check`, OUT is a folder if it exists.
/// Paths are compared resolved (symbolic links, `..`), so no spelling of
/// a path gets around a rule. The folders a compile writes to inside OUT
/// are checked too, in case one of them is a link into the project.
fn check_out(dir: &Path, out: &Path, check: bool) -> Result<(), String> {
    let shown = |p: &Path| crate::diagnostic::one_line(&p.display().to_string());
    let suggestion = shown(&crate::project::default_out(dir));
    if check && out.exists() && !out.is_dir() {
        return Err(format!(
            "--out {} is not a folder: `--check` compares the artifacts in a folder; pass the folder a compile wrote, e.g. --out {suggestion}",
            shown(out)
        ));
    }
    // A folder that does not exist is no project; the compile says so.
    let Ok(project) = dir.canonicalize() else {
        return Ok(());
    };
    let inputs: Vec<(PathBuf, PathBuf)> = crate::project::input_folders(dir)
        .into_iter()
        .map(|rel| (resolve(&dir.join(&rel)), rel))
        .collect();
    let written = ["", "manifest.json", "analyses", "migrations", "run", "unit"];
    for place in written {
        let target = resolve(&out.join(place));
        let what = if place.is_empty() {
            format!("--out {}", shown(out))
        } else {
            format!("{} (where a compile writes)", shown(&out.join(place)))
        };
        if target == project {
            return Err(format!(
                "{what} is the project folder itself: a compile would replace and remove its files; pass a folder of its own, e.g. --out {suggestion}"
            ));
        }
        if project.starts_with(&target) {
            return Err(format!(
                "{what} holds the project folder {}: a compile would replace and remove files of the project; pass a folder that does not hold the project, e.g. --out {suggestion}",
                shown(dir)
            ));
        }
        if let Some((_, rel)) = inputs.iter().find(|(input, _)| target.starts_with(input)) {
            return Err(format!(
                "{what} is inside {}, which a compile reads: the next compile would read its own output; pass a folder outside the project's input folders, e.g. --out {suggestion}",
                shown(&dir.join(rel))
            ));
        }
    }
    Ok(())
}

/// `path` made absolute with symbolic links and `..` resolved as the
/// operating system would, also where its end does not exist yet: from
/// the root down, each existing prefix is canonicalized before the next
/// component (so `..` after a link leaves the link's target), and the
/// components below the last existing one are taken as written.
fn resolve(path: &Path) -> PathBuf {
    use std::path::Component;
    let absolute = match std::env::current_dir() {
        Ok(cwd) => cwd.join(path),
        Err(_) => path.to_path_buf(),
    };
    let mut resolved = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => resolved.push(component.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                resolved.pop();
            }
            Component::Normal(name) => {
                resolved.push(name);
                if let Ok(real) = resolved.canonicalize() {
                    resolved = real;
                }
            }
        }
    }
    resolved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_may_not_be_the_project_its_ancestor_or_an_input_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run");
        std::fs::create_dir_all(dir.join("models")).unwrap();
        std::fs::create_dir_all(tmp.path().join("elsewhere")).unwrap();
        let refused = |out: &Path| check_out(&dir, out, false).is_err();
        assert!(refused(&dir));
        assert!(refused(tmp.path()), "the project's parent");
        assert!(refused(&dir.join("models/../..")), "`..` resolved");
        assert!(
            refused(&dir.join("migrations")),
            "an input folder that does not exist yet"
        );
        assert!(refused(&dir.join("models/out/deeper")));
        assert!(refused(&dir.join("target/../models/x")));
        assert!(!refused(&dir.join("target")));
        assert!(!refused(&tmp.path().join("elsewhere/out")));
        #[cfg(unix)]
        {
            let link = tmp.path().join("elsewhere/link");
            std::os::unix::fs::symlink(&dir, &link).unwrap();
            assert!(refused(&link), "a link to the project");
            assert!(refused(&link.join("models")), "a path through a link");
            let out = tmp.path().join("elsewhere/out2");
            std::fs::create_dir_all(&out).unwrap();
            std::os::unix::fs::symlink(dir.join("models"), out.join("run")).unwrap();
            assert!(refused(&out), "an owned folder that links into the project");
            assert!(
                refused(&link.join("absent/../models")),
                "`..` below a link, after a folder that does not exist"
            );
            let deep = tmp.path().join("elsewhere/deep");
            std::os::unix::fs::symlink(dir.join("models"), &deep).unwrap();
            assert!(refused(&deep.join("x")), "a link into an input folder");
            assert!(
                refused(&deep.join("..")),
                "`..` of a link is its target's parent"
            );
        }
    }

    #[test]
    fn dbt_model_paths_are_input_folders() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("dbt_project.yml"),
            "name: x\nmodel-paths: [\"transform\"]\n",
        )
        .unwrap();
        assert!(check_out(tmp.path(), &tmp.path().join("transform/out"), false).is_err());
        assert!(check_out(tmp.path(), &tmp.path().join("target"), false).is_ok());
    }

    #[test]
    fn check_needs_a_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let project = tmp.path().join("p");
        std::fs::create_dir(&project).unwrap();
        assert!(check_out(&project, &file, true).is_err());
        assert!(check_out(&project, &tmp.path().join("absent"), true).is_ok());
    }
}
