//! A unit test, compiled to one script.

use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct CompiledUnitTest {
    pub name: String,
    pub model: String,
    pub file: Arc<str>,
    pub description: Option<String>,
    /// The whole script: setup, then [`CHECK_MARKER`](crate::manifest::CHECK_MARKER) and the check query.
    pub script: String,
}
