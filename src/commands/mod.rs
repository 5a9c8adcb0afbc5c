//! One module a command of the command line, each taking its options as
//! plain data and returning an exit status; `crate::cli` reads the
//! arguments and calls them.

pub mod apply;
pub mod compile;
pub mod docs;
pub mod graph;
pub mod init;
pub mod lineage;
pub mod ls;
pub mod test;
