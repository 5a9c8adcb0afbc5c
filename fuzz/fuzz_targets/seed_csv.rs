//! A seed CSV.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use stackc::project::SourceFile;

#[path = "common.rs"]
mod common;

fuzz_target!(|text: &str| {
    let file = SourceFile {
        path: Arc::from("seeds/codes.csv"),
        text: Arc::from(text),
    };
    let mut diagnostics = Vec::new();
    let _ = stackc::seed::parse(&file, &mut diagnostics);
    common::check_all(&diagnostics, &|f| {
        (f == "seeds/codes.csv").then(|| text.to_string())
    });
});
