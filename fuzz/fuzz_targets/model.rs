//! One model: Jinja rendering, then the SQL check, with the check's
//! location mapped back through the render as the compiler does.
#![no_main]

use std::collections::BTreeMap;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use stackc::project::SourceFile;
use stackc::render::{Relations, RenderInput, Renderer};
use stackc::sql::QueryProblem;

#[path = "common.rs"]
mod common;

fuzz_target!(|text: &str| {
    let file = SourceFile {
        path: Arc::from("models/staging/m.sql"),
        text: Arc::from(text),
    };
    let text_of = |f: &str| (f == "models/staging/m.sql").then(|| text.to_string());
    let mut diagnostics = Vec::new();
    let renderer = Renderer::new(&[], &mut diagnostics);
    let vars = Arc::new(BTreeMap::from([("days".to_string(), serde_json::json!(3))]));
    let rendered = renderer.render(RenderInput {
        file: &file,
        relations: &Arc::new(Relations::default()),
        vars: &vars,
        this: None,
        is_incremental: true,
        model: None,
        graph: None,
    });
    let rendered = match rendered {
        Ok(r) => r,
        Err(d) => {
            common::check_all(&[d], &text_of);
            return;
        }
    };
    match stackc::sql::parse_query(&rendered.sql) {
        Err(QueryProblem::Syntax(e)) | Err(QueryProblem::TooDeep(e)) => {
            let offset = stackc::diagnostic::offset_of(&rendered.sql, e.line, e.column);
            let span = rendered.source_span(offset);
            let d = stackc::diagnostic::Diagnostic::new(stackc::diagnostic::Code::E0201, e.message).at(span);
            common::check_all(&[d], &text_of);
        }
        _ => {}
    }
});
