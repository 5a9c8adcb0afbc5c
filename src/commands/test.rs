//! `stackc test`: run the data tests (or, with `--unit`, the unit tests)
//! of the artifacts against the database as it is.

use crate::apply::TestOptions;
use crate::exit_status::ExitStatus;

pub fn run(options: &TestOptions) -> ExitStatus {
    crate::apply::test(options)
}
