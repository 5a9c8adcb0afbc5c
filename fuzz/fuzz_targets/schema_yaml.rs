//! A schema file (`models/**/*.yml`).
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use stackc::project::SourceFile;

#[path = "common.rs"]
mod common;

fuzz_target!(|text: &str| {
    let file = SourceFile {
        path: Arc::from("models/schema.yml"),
        text: Arc::from(text),
    };
    let mut diagnostics = Vec::new();
    let _ = stackc::schema::parse(&file, &mut diagnostics);
    common::check_all(&diagnostics, &|f| {
        (f == "models/schema.yml").then(|| text.to_string())
    });
});
