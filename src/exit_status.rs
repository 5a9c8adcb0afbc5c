//! How a command ends, as the process's exit status.

/// 0: done, nothing wrong. 1: the command ran and found problems (a
/// diagnostic error, stale artifacts, a failed step or test). 2: it could
/// not run (bad arguments, an unreadable or unwritable folder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Success,
    Failure,
    Error,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Error => 2,
        }
    }

    /// `Failure` when something failed, else `Success`.
    pub fn failed_if(failed: bool) -> ExitStatus {
        if failed {
            ExitStatus::Failure
        } else {
            ExitStatus::Success
        }
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> std::process::ExitCode {
        std::process::ExitCode::from(status.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_0_1_2() {
        for (status, code) in [
            (ExitStatus::Success, 0),
            (ExitStatus::Failure, 1),
            (ExitStatus::Error, 2),
        ] {
            assert_eq!(status.code(), code);
        }
        assert_eq!(ExitStatus::failed_if(true), ExitStatus::Failure);
        assert_eq!(ExitStatus::failed_if(false), ExitStatus::Success);
    }
}
