//! `stackc apply`: run the pending migrations, then the run steps.

use crate::apply::ApplyOptions;
use crate::exit_status::ExitStatus;

pub fn run(options: &ApplyOptions) -> ExitStatus {
    crate::apply::apply(options)
}
