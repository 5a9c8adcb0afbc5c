//! `stackc compile`: check a project and write (or, with `--check`,
//! compare) its artifacts.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::diagnostic::{self, Format, WarnError};
use crate::emit;
use crate::exit_status::ExitStatus;
use crate::project::LoadOptions;

/// What `stackc compile` was asked to do.
#[derive(Debug, Clone)]
pub struct CompileOptions {
    pub dir: PathBuf,
    /// `None`: the project's default (`project::default_out`).
    pub out: Option<PathBuf>,
    pub load: LoadOptions,
    pub check: bool,
    /// `--check -s ...`: compare only the files of these nodes.
    pub selection: crate::selection::SelectionArgs,
    pub format: Format,
    /// The warnings `--warn-error` and `--warn-error-options` raise.
    pub promote: WarnError,
    /// Whether to colour stderr (decided once, from `--color`).
    pub color: bool,
}

/// Compiles a project into `--out` (or, with `--check`, compares with it):
/// diagnostics first, then the artifacts, when there is no error.
pub fn run(options: &CompileOptions) -> ExitStatus {
    let CompileOptions {
        dir,
        out,
        load,
        check,
        selection,
        format,
        promote,
        color,
    } = options;
    let (dir, check, format, color) = (dir.as_path(), *check, *format, *color);
    let started = crate::fingerprint::started();
    let out = out
        .clone()
        .unwrap_or_else(|| crate::project::default_out(dir));
    if let Err(problem) = check_out(dir, &out, check) {
        eprintln!("error: {problem}");
        return ExitStatus::Error;
    }
    // The output folder is listed while the project is checked.
    let (mut compilation, listed) = rayon::join(
        || crate::analyze_with(dir, load),
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
    let (parse_cache, render_cache, column_cache) = (
        compilation.parse_cache,
        compilation.render_cache,
        compilation.column_cache,
    );
    // Only caches: a project folder that cannot take them (read-only)
    // compiles as well, parsing and rendering everything each time.
    // `--check` writes nothing, and a folder that is not a project gets no
    // cache.
    let save_caches = !check && compilation.project.is_some();
    let save = || {
        save_caches.then(|| {
            let ((parsed, rendered), derived) = rayon::join(
                || rayon::join(|| parse_cache.save(dir), || render_cache.save(dir)),
                || column_cache.save(dir),
            );
            parsed.and(rendered).and(derived)
        })
    };
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
        let owned = match selected_files(dir, &project, &resolved, selection) {
            Ok(owned) => owned,
            Err(problem) => {
                eprintln!("error: {problem}");
                return ExitStatus::Error;
            }
        };
        let staleness = existing
            .and_then(|e| emit::check(&out, e, &project, &resolved))
            .map(|mut s| {
                if let Some(owned) = &owned {
                    for list in [&mut s.stale, &mut s.missing, &mut s.extra] {
                        list.retain(|p| owned.contains(p));
                    }
                }
                s
            });
        let summary = match &owned {
            Some(owned) => format!("{summary}; {} files of the selection compared", owned.len()),
            None => summary,
        };
        let status = report_check(dir, &out, staleness, format, &summary);
        std::mem::forget((
            project,
            resolved,
            compilation.files,
            parse_cache,
            render_cache,
            column_cache,
        ));
        return status;
    }
    mention_foreign(&out, &foreign);
    if selection_given(selection) {
        eprintln!(
            "note: compile writes the whole project (the artifacts are one committed set); the selection narrows only `--check`"
        );
    }
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
    // Only a cache: without it, `ls` compiles in memory as before.
    let _ = crate::fingerprint::save(dir, &out, load, &compilation.files, started);
    if format == Format::Human {
        eprintln!("compiled {summary} into {}", out.display());
    }
    // The process exits next: freeing a large project's many small
    // allocations one by one takes longer than the rest of the output step.
    std::mem::forget((
        project,
        resolved,
        compilation.files,
        parse_cache,
        render_cache,
        column_cache,
    ));
    ExitStatus::Success
}

fn selection_given(s: &crate::selection::SelectionArgs) -> bool {
    !s.select.is_empty() || !s.exclude.is_empty() || s.selector.is_some()
}

/// `--check` with a selection: the artifact files the selected nodes own
/// (their migrations, run steps, test files and unit tests). `None` when
/// nothing selects: every file is compared, `manifest.json` and the files
/// of no node included.
fn selected_files(
    dir: &Path,
    project: &crate::project::Project,
    resolved: &crate::node::Resolved,
    selection: &crate::selection::SelectionArgs,
) -> Result<Option<std::collections::BTreeSet<String>>, String> {
    let artifacts = emit::artifacts(project, resolved);
    let manifest = crate::selection::manifest_of(&artifacts)?;
    let graph = crate::select::Graph::from_manifest(&manifest);
    let chosen = crate::selection::selected(dir, &graph, selection)?;
    for w in &chosen.warnings {
        eprintln!("{w}");
    }
    if chosen.whole {
        return Ok(None);
    }
    let mut owned = std::collections::BTreeSet::new();
    for id in &chosen.ids {
        if let Some(node) = manifest.nodes.get(id) {
            owned.extend(node.artifacts().iter().cloned());
        }
    }
    for (id, unit) in crate::selection::unit_tests(&manifest, &graph) {
        if chosen.ids.contains(&id) {
            owned.insert(unit.file.clone());
        }
    }
    Ok(Some(owned))
}

/// `--check`: whether the artifacts in OUT are what the project compiles
/// to, and if not, which files differ and what to run.
fn report_check(
    dir: &Path,
    out: &Path,
    staleness: std::io::Result<emit::Staleness>,
    format: Format,
    summary: &str,
) -> ExitStatus {
    let staleness = match staleness {
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
    ExitStatus::Failure
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
pub(crate) fn resolve(path: &Path) -> PathBuf {
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
