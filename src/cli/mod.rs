//! The command line: parse the arguments ([`args`]), hand them to a
//! command (`crate::commands`), and return its exit status (0 ok,
//! 1 problems found, 2 usage or internal). Nothing else happens here.

pub mod args;

use std::ffi::OsString;

use clap::Parser;

use crate::commands;
use crate::diagnostic::ColorWhen;
use crate::exit_status::ExitStatus;
use args::{Cli, Command, DatabaseTarget};

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
            select,
            format,
            warn_error,
        } => {
            let Some(promote) = promoted(&warn_error) else {
                return ExitStatus::Error;
            };
            commands::compile::run(&commands::compile::CompileOptions {
                dir,
                out,
                load: profile.options(),
                check,
                selection: select.selection(),
                format: format.into(),
                promote,
                color,
            })
        }
        Command::Apply { target, .. } if vars_with_artifacts(&target) => ExitStatus::Error,
        Command::Test { target, .. } if vars_with_artifacts(&target) => ExitStatus::Error,
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
            select,
            fail_fast,
            lock_timeout,
            format,
            warn_error,
        } => {
            let Some(promote) = promoted(&warn_error) else {
                return ExitStatus::Error;
            };
            commands::apply::run(&crate::apply::ApplyOptions {
                dir,
                artifacts,
                database_url,
                full_refresh,
                dry_run,
                out_of_order,
                selection: select.selection(),
                fail_fast,
                lock_timeout: std::time::Duration::from_secs(lock_timeout),
                format,
                color,
                load: profile.options(),
                promote,
            })
        }
        Command::Ls {
            dir,
            select,
            resource_type,
            output,
            output_keys,
            profile,
        } => commands::ls::run(&commands::ls::LsOptions {
            dir,
            load: profile.options(),
            selection: select.selection(),
            // dbt's `--resource-type` takes a list either way.
            resource_types: resource_type
                .iter()
                .flat_map(|t| t.split([',', ' ']))
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
            output: match output {
                args::LsOutput::Selector => commands::ls::Output::Selector,
                args::LsOutput::Name => commands::ls::Output::Name,
                args::LsOutput::Path => commands::ls::Output::Path,
                args::LsOutput::Json => commands::ls::Output::Json,
            },
            output_keys: output_keys
                .iter()
                .flat_map(|t| t.split([',', ' ']))
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
            color,
        }),
        Command::Docs {
            dir,
            select,
            out_dir,
            serve,
            port,
            profile,
        } => commands::docs::run(&commands::docs::DocsOptions {
            dir,
            out_dir,
            load: profile.options(),
            selection: select.selection(),
            serve: serve.then_some(port),
            color,
        }),
        Command::Completions { shell } => completions(shell),
        Command::Lineage {
            column,
            dir,
            filters,
            format,
            profile,
        } => commands::lineage::run(&commands::lineage::LineageOptions {
            dir,
            load: profile.options(),
            column,
            filters,
            json: format == crate::apply::report::ReportFormat::Json,
            color,
        }),
        Command::Init { dir, dbt, name } => {
            commands::init::run(&commands::init::InitOptions { dir, name, dbt })
        }
        Command::Graph {
            dir,
            select,
            format,
            profile,
        } => commands::graph::run(&commands::graph::GraphOptions {
            dir,
            load: profile.options(),
            selection: select.selection(),
            format: match format {
                args::GraphFormatArg::Mermaid => commands::graph::GraphFormat::Mermaid,
                args::GraphFormatArg::Dot => commands::graph::GraphFormat::Dot,
                args::GraphFormatArg::Json => commands::graph::GraphFormat::Json,
            },
            color,
        }),
        Command::Test {
            target:
                DatabaseTarget {
                    dir,
                    artifacts,
                    database_url,
                    profile,
                },
            unit,
            select,
            fail_fast,
            format,
            warn_error,
        } => {
            let Some(promote) = promoted(&warn_error) else {
                return ExitStatus::Error;
            };
            commands::test::run(&crate::apply::TestOptions {
                dir,
                artifacts,
                database_url,
                unit,
                selection: select.selection(),
                fail_fast,
                format,
                color,
                load: profile.options(),
                promote,
            })
        }
    }
}

/// `--vars` change what compiles: committed artifacts (`--artifacts`) run
/// as they were compiled, so the two together are a usage error.
fn vars_with_artifacts(target: &DatabaseTarget) -> bool {
    let given = target
        .profile
        .vars
        .as_ref()
        .is_some_and(|v| !v.0.is_empty());
    if given && target.artifacts.is_some() {
        eprintln!(
            "error: --vars changes what the project compiles to, and --artifacts runs committed artifacts as they were compiled: compile with `stackc compile DIR --vars ...` and apply those, or drop --artifacts"
        );
        return true;
    }
    false
}

/// The warnings `--warn-error` / `--warn-error-options` raise; `None`
/// (after saying why) when the options cannot be read, a usage error.
fn promoted(args: &args::WarnErrorArgs) -> Option<crate::diagnostic::WarnError> {
    match args.parse() {
        Ok(p) => Some(p),
        Err(problem) => {
            eprintln!("error: {problem}");
            None
        }
    }
}

/// Writes the completion script to stdout; the argument types above are
/// its only source, so it cannot fall behind a new flag.
fn completions(shell: args::ShellArg) -> ExitStatus {
    use clap::CommandFactory;
    use clap_complete::Shell;
    let shell = match shell {
        args::ShellArg::Bash => Shell::Bash,
        args::ShellArg::Zsh => Shell::Zsh,
        args::ShellArg::Fish => Shell::Fish,
    };
    // Into memory first: clap_complete panics when its writer fails, and
    // stdout fails whenever the reader goes away (`| head`).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "stackc", &mut script);
    match std::io::Write::write_all(&mut std::io::stdout(), &script) {
        Ok(()) => ExitStatus::Success,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitStatus::Success,
        Err(e) => {
            eprintln!("error: cannot write the completion script: {e}");
            ExitStatus::Error
        }
    }
}
