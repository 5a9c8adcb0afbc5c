//! dbt's side of rendering: the Jinja context packages use (macro
//! namespaces, `adapter`, `modules`, constant `run_query()`), and the names
//! dbt's naming macros give models and seeds. What dbt loads from disk
//! (`dbt_project.yml`, packages, profiles) is `crate::dbt`'s.

pub mod consteval;
pub(crate) mod context;
pub(crate) mod macro_args;
pub(crate) mod modules;
pub(crate) mod naming;
pub(crate) mod pyjson;
pub(crate) mod pytz;
pub(crate) mod query_result;
pub(crate) mod timedelta;
