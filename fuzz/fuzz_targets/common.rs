//! What every target asserts beyond "no panic, no abort": each location
//! a diagnostic gives lies inside the file it names, on a character
//! boundary.
#![allow(dead_code)] // each target uses a part

use std::path::PathBuf;

use stackc::diagnostic::{Diagnostic, Span};

pub fn check_span(span: &Span, text_of: &dyn Fn(&str) -> Option<String>, d: &Diagnostic) {
    let Some(text) = text_of(&span.file) else {
        return;
    };
    let r = &span.range;
    assert!(
        r.start <= r.end && r.end <= text.len(),
        "{}: range {r:?} outside {} ({} bytes): {}",
        d.code,
        span.file,
        text.len(),
        d.message
    );
    assert!(
        text.is_char_boundary(r.start) && text.is_char_boundary(r.end),
        "{}: range {r:?} not on character boundaries in {}",
        d.code,
        span.file
    );
}

pub fn check_all(diagnostics: &[Diagnostic], text_of: &dyn Fn(&str) -> Option<String>) {
    for d in diagnostics {
        if let Some(span) = &d.primary {
            check_span(span, text_of, d);
        }
        for r in &d.related {
            check_span(&r.span, text_of, d);
        }
    }
}

/// A folder of this process's own, emptied for each input.
pub fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stackc-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    dir
}
