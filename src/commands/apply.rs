//! `stackc apply`: run the pending migrations, then the run steps.

use crate::apply::ApplyOptions;
use crate::exit_status::ExitStatus;

pub fn run(options: &ApplyOptions) -> ExitStatus {
    // Single-threaded here, as that function requires.
    crate::apply::connect::skip_system_ca_bundle();
    crate::apply::apply(options)
}
