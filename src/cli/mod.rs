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
                format: format.into(),
                promote,
                color,
            })
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
            let Some(promote) = promoted(&warn_error) else {
                return ExitStatus::Error;
            };
            commands::test::run(&crate::apply::TestOptions {
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
