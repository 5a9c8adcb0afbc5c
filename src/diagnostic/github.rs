//! GitHub Actions workflow commands, which annotate the lines of a pull
//! request.

use std::fmt::Write as _;

use super::{line_col, Diagnostic, Severity, SourceFiles};

/// GitHub workflow commands: `::error file=F,line=L,col=C,title=CODE::message`.
pub(super) fn render(out: &mut String, d: &Diagnostic, files: &SourceFiles) {
    let kind = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let mut props = Vec::new();
    if let Some(span) = &d.primary {
        props.push(format!("file={}", github_escape_property(&span.file)));
        if let Some(text) = files.get(&span.file) {
            let (line, col) = line_col(text, span.range.start);
            props.push(format!("line={line}"));
            props.push(format!("col={col}"));
        }
    }
    props.push(format!("title={}", d.code));
    let _ = writeln!(
        out,
        "::{kind} {}::{}",
        props.join(","),
        github_escape_data(&message)
    );
}

fn github_escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn github_escape_property(s: &str) -> String {
    github_escape_data(s)
        .replace(':', "%3A")
        .replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::super::{render, Code, Format};
    use super::*;

    #[test]
    fn github_output_escapes_newlines() {
        let d = Diagnostic::new(Code::W0202, "a\nb");
        let out = render(&[d], &SourceFiles::default(), Format::Github, false);
        assert_eq!(out, "::warning title=W0202::a%0Ab\n");
    }
}
