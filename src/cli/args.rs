//! The command line's arguments, as clap reads them; nothing here runs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::apply::report::ReportFormat;
use crate::diagnostic::{ColorWhen, Format};

#[derive(Parser)]
#[command(
    name = "stackc",
    version,
    about = "Compile analytics projects for PostgreSQL into reviewable SQL artifacts"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Colour the output: auto colours a terminal (NO_COLOR turns it off,
    /// CLICOLOR_FORCE on).
    #[arg(long, global = true, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ShellArg {
    Bash,
    Zsh,
    Fish,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ColorArg {
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
pub enum Command {
    /// Check the project and write manifest.json, migrations/ and run/.
    ///
    /// Example: stackc compile project_template --out migrations --check -s fact_sales+
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
        /// With a selection, only the files of the selected nodes are
        /// compared.
        #[arg(long)]
        check: bool,
        #[command(flatten)]
        select: SelectArgs,
        /// How to print diagnostics.
        #[arg(long, value_enum, default_value_t = FormatArg::Human)]
        format: FormatArg,
        #[command(flatten)]
        warn_error: WarnErrorArgs,
    },
    /// Apply the artifacts to PostgreSQL: pending migrations, then the run steps.
    ///
    /// Example: stackc apply project_template -s fact_sales+ --fail-fast
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
        #[command(flatten)]
        select: SelectArgs,
        /// Stop at the first failed step or test; the rest is not run.
        #[arg(long, short = 'x')]
        fail_fast: bool,
        /// Seconds to wait for another apply's lock before giving up.
        #[arg(long, value_name = "SECS", default_value_t = 60)]
        lock_timeout: u64,
        /// Progress always goes to stderr; `json` also writes a report to stdout.
        #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
        format: ReportFormat,
        #[command(flatten)]
        warn_error: WarnErrorArgs,
    },
    /// List the nodes a selection picks, as dbt's `ls` (compiles in
    /// memory; writes nothing).
    ///
    /// Example: stackc ls -s +fact_sales --resource-type model --output name
    #[command(alias = "list")]
    Ls {
        /// The project folder (holds stackc.toml or dbt_project.yml).
        #[arg(default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        select: SelectArgs,
        /// Only these resource types (model, seed, test, source, exposure,
        /// metric, unit_test...); `analysis` lists analyses, left out otherwise.
        #[arg(long = "resource-type", alias = "resource-types", num_args = 1.., value_name = "TYPE")]
        resource_type: Vec<String>,
        /// How to print each node.
        #[arg(short = 'o', long, value_enum, default_value_t = LsOutput::Selector)]
        output: LsOutput,
        /// With `--output json`: the keys to print.
        #[arg(long, num_args = 1.., value_name = "KEY")]
        output_keys: Vec<String>,
        #[command(flatten)]
        profile: ProfileArgs,
    },
    /// Where a model's column comes from, down to the raw columns, and
    /// what is computed from it (compiles in memory; writes nothing).
    ///
    /// Example: stackc lineage fact_sales.net_amount project_template
    Lineage {
        /// `model.column`, or `source.table.column`.
        column: String,
        /// The project folder (holds stackc.toml or dbt_project.yml).
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Also the columns that only decide which rows there are (`where`,
        /// `join ... on`, `group by`, `having`).
        #[arg(long)]
        filters: bool,
        /// `json` prints the two trees as one JSON document.
        #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
        format: ReportFormat,
        #[command(flatten)]
        profile: ProfileArgs,
    },
    /// Write the docs site (lineage graph, search, a page per node) as one
    /// self-contained index.html that opens from the file system.
    ///
    /// Example: stackc docs -s +fact_sales --serve
    Docs {
        /// The project folder (holds stackc.toml or dbt_project.yml).
        #[arg(default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        select: SelectArgs,
        /// The folder of the site [default: OUT/docs, OUT being DIR/target,
        /// or DIR/stackc_target in a dbt project].
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
        /// After writing the site, serve it on 127.0.0.1 until stopped.
        #[arg(long)]
        serve: bool,
        /// The port of --serve (0: any free port).
        #[arg(long, default_value_t = 8080, requires = "serve")]
        port: u16,
        #[command(flatten)]
        profile: ProfileArgs,
    },
    /// Print the lineage of a selection as Mermaid, Graphviz dot or JSON
    /// (compiles in memory; writes nothing).
    ///
    /// Example: stackc graph -s +fact_sales > lineage.mmd
    Graph {
        /// The project folder (holds stackc.toml or dbt_project.yml).
        #[arg(default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        select: SelectArgs,
        /// mermaid renders in GitHub markdown (in a ```mermaid block); dot
        /// is Graphviz's (`dot -Tsvg`); json is nodes and edges.
        #[arg(long, value_enum, default_value_t = GraphFormatArg::Mermaid)]
        format: GraphFormatArg,
        #[command(flatten)]
        profile: ProfileArgs,
    },
    /// Start a project that compiles and applies as it is; never
    /// overwrites a file.
    ///
    /// Example: stackc init shop && cd shop && stackc compile
    Init {
        /// Where to create it [default: the current folder].
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// dbt's layout (dbt_project.yml, profiles.yml), which dbt runs too.
        #[arg(long)]
        dbt: bool,
        /// The project's name [default: from DIR's name].
        #[arg(long)]
        name: Option<String>,
    },
    /// Print a shell completion script for bash, zsh or fish.
    ///
    /// Example: stackc completions bash > ~/.local/share/bash-completion/completions/stackc
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: ShellArg,
    },
    /// Run the tests of the artifacts against the database as it is.
    ///
    /// Example: stackc test project_template -s tag:bi --fail-fast
    Test {
        #[command(flatten)]
        target: DatabaseTarget,
        /// Run the unit tests (fixture inputs, expected rows; rolled back)
        /// instead of the data tests.
        #[arg(long)]
        unit: bool,
        #[command(flatten)]
        select: SelectArgs,
        /// Stop at the first failed test; the rest is not run.
        #[arg(long, short = 'x')]
        fail_fast: bool,
        /// Progress always goes to stderr; `json` also writes a report to stdout.
        #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
        format: ReportFormat,
        #[command(flatten)]
        warn_error: WarnErrorArgs,
    },
}

/// `--warn-error` and `--warn-error-options`, on every command that compiles.
#[derive(Args, Clone, Default)]
pub struct WarnErrorArgs {
    /// Treat every warning as an error (as dbt's --warn-error); on apply
    /// and test, a failing test of severity warn fails too.
    #[arg(long)]
    pub warn_error: bool,
    /// Which warnings are errors, in dbt's syntax with stackc's codes:
    /// '{"include": "all", "exclude": ["W0203"]}' or '{"include": ["W0050"]}'.
    #[arg(long, value_name = "JSON")]
    pub warn_error_options: Option<String>,
}

impl WarnErrorArgs {
    /// The warnings to promote; `Err` is the usage problem to print.
    pub fn parse(&self) -> Result<crate::diagnostic::WarnError, String> {
        let mut promote = match self
            .warn_error_options
            .as_deref()
            .map(crate::diagnostic::WarnError::parse_options)
        {
            None => crate::diagnostic::WarnError::default(),
            Some(Ok(w)) => w,
            Some(Err(problem)) => return Err(format!("invalid --warn-error-options: {problem}")),
        };
        promote.all |= self.warn_error;
        Ok(promote)
    }
}

/// Node selection, with dbt's grammar (`crate::select`).
#[derive(Args, Clone, Default)]
pub struct SelectArgs {
    /// Nodes to select: `name`, `+name`, `name+`, `@name`, `tag:x`,
    /// `path:models/staging`, `a,b` (both), `a b` (either)...
    #[arg(short = 's', long = "select", num_args = 1.., value_name = "SELECTOR")]
    pub select: Vec<String>,
    /// Nodes to leave out, in the same grammar.
    #[arg(long, num_args = 1.., value_name = "SELECTOR")]
    pub exclude: Vec<String>,
    /// A selector of the project's selectors.yml.
    #[arg(long, value_name = "NAME")]
    pub selector: Option<String>,
    /// Which tests of selected nodes join the selection.
    #[arg(long, value_enum, default_value_t = IndirectArg::Eager)]
    pub indirect_selection: IndirectArg,
    /// A folder with a previous manifest.json, for `state:new` and
    /// `state:modified`.
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum, Default)]
pub enum IndirectArg {
    #[default]
    Eager,
    Cautious,
    Buildable,
    Empty,
}

impl SelectArgs {
    pub fn selection(&self) -> crate::selection::SelectionArgs {
        use crate::select::Indirect;
        crate::selection::SelectionArgs {
            select: self.select.clone(),
            exclude: self.exclude.clone(),
            selector: self.selector.clone(),
            indirect: match self.indirect_selection {
                IndirectArg::Eager => Indirect::Eager,
                IndirectArg::Cautious => Indirect::Cautious,
                IndirectArg::Buildable => Indirect::Buildable,
                IndirectArg::Empty => Indirect::Empty,
            },
            state: self.state.clone(),
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum GraphFormatArg {
    Mermaid,
    Dot,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LsOutput {
    Selector,
    Name,
    Path,
    Json,
}

/// dbt's profile flags: which target of profiles.yml a dbt project uses.
#[derive(Args, Clone, Default)]
pub struct ProfileArgs {
    /// The profiles.yml target [default: the profile's `target:`].
    #[arg(short = 't', long)]
    pub target: Option<String>,
    /// The folder that holds profiles.yml [default: DBT_PROFILES_DIR, else
    /// the project folder, else ~/.dbt].
    #[arg(long, value_name = "DIR")]
    pub profiles_dir: Option<PathBuf>,
    /// Vars over the project's, as YAML (dbt's --vars): '{days: 3, region: eu}'.
    #[arg(long, value_name = "YAML", value_parser = parse_vars)]
    pub vars: Option<Vars>,
}

/// `--vars`, read.
#[derive(Clone, Debug, Default)]
pub struct Vars(pub std::collections::BTreeMap<String, serde_json::Value>);

/// `--vars` as dbt reads it: a YAML mapping (`{k: v}` or `k: v`); an empty
/// text is no vars.
pub fn parse_vars(text: &str) -> Result<Vars, String> {
    if text.trim().is_empty() {
        return Ok(Vars::default());
    }
    let value: serde_json::Value =
        serde_saphyr::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
    match value {
        serde_json::Value::Object(map) => Ok(Vars(map.into_iter().collect())),
        serde_json::Value::Null => Ok(Vars::default()),
        _ => Err("expected a YAML mapping of vars, e.g. '{lookback_days: 3}'".into()),
    }
}

impl ProfileArgs {
    pub fn options(&self) -> crate::project::LoadOptions {
        crate::project::LoadOptions {
            profiles_dir: self.profiles_dir.clone(),
            target: self.target.clone(),
            vars: self.vars.clone().unwrap_or_default().0,
        }
    }
}

/// What `apply` and `test` run, and where.
#[derive(Args)]
pub struct DatabaseTarget {
    /// The project folder (holds stackc.toml).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Use these committed artifacts (verified against their manifest.json)
    /// instead of compiling DIR.
    #[arg(long, value_name = "OUT")]
    pub artifacts: Option<PathBuf>,
    /// Connection URL [default: the variable named by [connection] url_env,
    /// else DATABASE_URL, else PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE/PGSSLMODE;
    /// each also read from DIR/.env].
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    #[command(flatten)]
    pub profile: ProfileArgs,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum FormatArg {
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
