//! The stop signal: one type for container and local runs, parsed from what
//! a user types, shown as the engines take it; anything else is a typed
//! error, never a panic.

use cstream_proto_core::{RunSpec, Signal, SignalError, SpecError};
use proptest::prelude::*;

#[test]
fn names_with_or_without_sig_in_any_case_and_numbers() {
    for s in ["SIGTERM", "TERM", "term", "SigTerm", "15"] {
        assert_eq!(s.parse::<Signal>(), Ok(Signal::TERM), "{s}");
    }
    let cases = [
        ("HUP", 1),
        ("SIGINT", 2),
        ("quit", 3),
        ("KILL", 9),
        ("USR1", 10),
        ("SIGUSR2", 12),
        ("WINCH", 28),
        ("SIGIOT", 6),
        ("ABRT", 6),
        ("CLD", 17),
        ("POLL", 29),
        ("SYS", 31),
        ("RTMIN", 34),
        ("SIGRTMIN+3", 37),
        ("rtmin+15", 49),
        ("RTMAX-14", 50),
        ("SIGRTMAX-1", 63),
        ("SIGRTMAX", 64),
        ("1", 1),
        ("64", 64),
        ("32", 32),
    ];
    for (s, n) in cases {
        let sig = Signal::try_from(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(sig.number(), n, "{s}");
        assert_eq!(Signal::from_number(i32::from(n)), Ok(sig));
    }
    assert_eq!(Signal::try_from(String::from("INT")), Ok(Signal::INT));
}

#[test]
fn shown_as_the_engines_name_them() {
    assert_eq!(Signal::TERM.to_string(), "SIGTERM");
    assert_eq!(Signal::KILL.to_string(), "SIGKILL");
    assert_eq!(Signal::ABRT.to_string(), "SIGABRT", "the first of its names");
    assert_eq!(Signal::IO.to_string(), "SIGIO");
    assert_eq!(Signal::RTMIN.to_string(), "SIGRTMIN");
    assert_eq!(Signal::from_number(37).unwrap().to_string(), "SIGRTMIN+3");
    assert_eq!(Signal::from_number(49).unwrap().to_string(), "SIGRTMIN+15");
    assert_eq!(Signal::from_number(50).unwrap().to_string(), "SIGRTMAX-14");
    assert_eq!(Signal::RTMAX.to_string(), "SIGRTMAX");
    assert_eq!(Signal::from_number(32).unwrap().to_string(), "32", "no name: its number");
    assert_eq!(format!("{:?}", Signal::TERM), "Signal(SIGTERM)");
    // Every signal reads back as itself.
    for n in 1..=64 {
        let sig = Signal::from_number(n).unwrap();
        assert_eq!(sig.to_string().parse::<Signal>(), Ok(sig), "{n}");
        assert_eq!(i32::from(sig.number()), n);
    }
}

#[test]
fn what_is_not_a_signal_is_a_typed_error() {
    let long = "SIGTERM".repeat(1000);
    let bad = [
        "",
        "SIG",
        "TERM please",
        "SIGNOPE",
        "0",
        "65",
        "-1",
        "+15",
        " TERM",
        "TERM ",
        "15.0",
        "RTMIN+",
        "RTMIN+31",
        "RTMIN+-1",
        "RTMAX-31",
        "RTMAX+1",
        "RTMIN+ 1",
        "SIGSIGTERM",
        "99999999999999999999",
        "TÉRM",
        "ＴＥＲＭ",
        &long,
    ];
    for s in bad {
        let e: SignalError = s.parse::<Signal>().expect_err(s);
        assert_eq!(e.value(), s);
        assert_eq!(
            e.to_string(),
            format!("unknown signal {s:?}: expected a name such as SIGTERM or TERM, or a number from 1 to 64")
        );
    }
    for n in [0, 65, -9, i32::MAX, i32::MIN] {
        assert_eq!(Signal::from_number(n).unwrap_err().value(), n.to_string());
    }
}

#[test]
fn the_builder_takes_the_type_or_its_name() {
    let spec = |b: cstream_proto_core::spec::RunSpecBuilder| b.command(["true"]).build();
    assert!(spec(RunSpec::builder("alpine").stop_signal(Signal::INT)).is_ok());
    assert!(spec(RunSpec::builder("alpine").stop_signal("SIGRTMIN+3")).is_ok());
    assert!(spec(RunSpec::builder("alpine").stop_signal(String::from("9"))).is_ok());
    let e = spec(RunSpec::builder("alpine").stop_signal("SIGNOPE")).unwrap_err();
    assert!(
        matches!(&e, SpecError::Invalid { field, value, .. } if field == "stop signal" && value == "SIGNOPE"),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "invalid stop signal \"SIGNOPE\": expected a name such as SIGTERM or TERM, or a number from 1 to 64"
    );
    // A later good value does not hide the first bad one.
    assert!(spec(RunSpec::builder("alpine").stop_signal("nope").stop_signal(Signal::TERM)).is_err());
}

proptest! {
    #[test]
    fn any_text_parses_or_is_refused_without_panicking(s in "\\PC{0,24}") {
        if let Ok(sig) = s.parse::<Signal>() {
            prop_assert_eq!(sig.to_string().parse::<Signal>(), Ok(sig));
            prop_assert!((1..=64).contains(&sig.number()));
        }
    }

    #[test]
    fn names_near_the_real_ones_never_panic(prefix in "(SIG|sig|)", base in "(RTMIN|RTMAX|TERM)", tail in "[-+0-9 ]{0,4}") {
        let s = format!("{prefix}{base}{tail}");
        let _ = s.parse::<Signal>();
    }
}
