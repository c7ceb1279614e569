//! What a caller's stdin command comes back as, through the driver's side of
//! a run: a refusal is a command error, a failed write is a transport error,
//! whatever the kind of the I/O error.

use cstream_driver_hyper::driver::{Control, pair};
use cstream_driver_hyper::{CommandError, Error, Phase};

/// Answers the first stdin command with a failed write of `kind`.
async fn write_failing_with(kind: std::io::ErrorKind) -> Error {
    let (run, mut driver) = pair();
    tokio::spawn(async move {
        if let Some(Control::Stdin(_, ack)) = driver.control.recv().await {
            ack.done(Err(std::io::Error::new(kind, "the socket went away")));
        }
    });
    run.write_stdin(&b"x"[..]).await.unwrap_err()
}

#[tokio::test]
async fn a_failed_write_of_any_kind_is_a_transport_error_not_a_command_error() {
    for kind in [std::io::ErrorKind::Other, std::io::ErrorKind::BrokenPipe] {
        match write_failing_with(kind).await {
            Error::Run(cstream_driver_hyper::core::Error::Transport { phase: Phase::Attach, message }) => {
                assert_eq!(message, "writing stdin: the socket went away", "{kind:?}")
            }
            other => panic!("{kind:?}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_refused_command_comes_back_as_itself() {
    let (run, mut driver) = pair();
    tokio::spawn(async move {
        while let Some(c) = driver.control.recv().await {
            if let Control::Stdin(_, ack) = c {
                ack.refuse(CommandError::StdinClosed);
            }
        }
    });
    assert!(matches!(run.write_stdin(&b"x"[..]).await, Err(Error::Command(CommandError::StdinClosed))));
    assert!(matches!(run.close_stdin().await, Err(Error::Command(CommandError::StdinClosed))));
}

#[tokio::test]
async fn a_command_to_a_run_whose_driver_is_gone_is_refused_as_ended() {
    let (run, driver) = pair();
    drop(driver);
    assert!(matches!(run.write_stdin(&b"x"[..]).await, Err(Error::Command(CommandError::Ended))));
    assert!(matches!(run.resize(80, 24).await, Err(Error::Command(CommandError::Ended))));
}
