//! Column-level comprehension (issue 14): every model's output columns
//! with their types, derived from its SQL in dependency order into the
//! catalog; every column name resolved with SQL's scoping; the upstream
//! columns each model column is computed from.

pub mod cache;
pub mod checks;
pub mod common;
pub mod models;
pub mod query;
pub mod types;
