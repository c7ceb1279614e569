//! The host's numbers for the signals a run may name.

use rustix::process::Signal;

/// The host's signal for `sig`, when this process can send it: real-time
/// signals have no safe constructor, and are refused before the run starts.
pub(crate) fn host_signal(sig: cstream_driver_hyper::Signal) -> Option<Signal> {
    use cstream_driver_hyper::Signal as S;
    Some(match sig {
        S::HUP => Signal::HUP,
        S::INT => Signal::INT,
        S::QUIT => Signal::QUIT,
        S::ILL => Signal::ILL,
        S::TRAP => Signal::TRAP,
        S::ABRT => Signal::ABORT,
        S::BUS => Signal::BUS,
        S::FPE => Signal::FPE,
        S::KILL => Signal::KILL,
        S::USR1 => Signal::USR1,
        S::SEGV => Signal::SEGV,
        S::USR2 => Signal::USR2,
        S::PIPE => Signal::PIPE,
        S::ALRM => Signal::ALARM,
        S::TERM => Signal::TERM,
        S::CHLD => Signal::CHILD,
        S::CONT => Signal::CONT,
        S::STOP => Signal::STOP,
        S::TSTP => Signal::TSTP,
        S::TTIN => Signal::TTIN,
        S::TTOU => Signal::TTOU,
        S::URG => Signal::URG,
        S::XCPU => Signal::XCPU,
        S::XFSZ => Signal::XFSZ,
        S::VTALRM => Signal::VTALARM,
        S::PROF => Signal::PROF,
        S::WINCH => Signal::WINCH,
        S::IO => Signal::IO,
        #[cfg(target_os = "linux")]
        S::PWR => Signal::POWER,
        S::SYS => Signal::SYS,
        _ => return None,
    })
}
