//! Error chains print each cause once: no error's message repeats the
//! message of its source, in process and at the binary's boundary (the
//! one-line `error: ...` of `songvae-train` and the reason of its outcome
//! record).

use std::error::Error as _;
use std::path::Path;
use std::process::Command;

use songvae_run::device::DeviceChoice;
use songvae_run::result::{OutcomeStatus, RunOutcome};
use songvae_train::error::Error;

/// Every message of the chain, outermost first.
fn chain(error: &dyn std::error::Error) -> Vec<String> {
    let mut messages = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        messages.push(cause.to_string());
        source = cause.source();
    }
    messages
}

fn assert_each_cause_once(error: &dyn std::error::Error) {
    let messages = chain(error);
    for pair in messages.windows(2) {
        assert!(
            !pair[0].contains(&pair[1]),
            "{:?} repeats its source {:?}",
            pair[0],
            pair[1]
        );
    }
}

#[test]
fn wrapped_errors_of_a_run_print_their_cause_once() {
    let representatives = [
        Error::from(songvae_metrics::error::Error::InvalidParameter {
            parameter: "latent dimensions",
            value: "1".to_owned(),
            expected: "at least 2".to_owned(),
        }),
        Error::from(songvae_run::error::Error::InvalidConfig {
            key: "condition".to_owned(),
            reason: "the dataset has no label column 'mood'".to_owned(),
        }),
        Error::from(songvae_features::error::Error::FeaturesDirectory {
            path: "runs/x/features".into(),
            reason: "missing".to_owned(),
        }),
        Error::from(songvae_models::device::DeviceUnavailable {
            requested: DeviceChoice::Cuda(3),
            available: 0,
        }),
        Error::from(tch::TchError::Shape("expected 2 dimensions".to_owned())),
    ];
    for error in &representatives {
        assert_each_cause_once(error);
        assert!(!error.to_string().is_empty());
    }
    // A transparent wrapper shows its cause's text exactly once.
    let wrapped = &representatives[0];
    assert_eq!(
        wrapped.to_string(),
        "invalid latent dimensions = 1: at least 2"
    );
    assert!(
        wrapped
            .source()
            .is_none_or(|source| source.to_string() != wrapped.to_string())
    );
}

/// `songvae-train` with a config that cannot run: the one stderr line and
/// the outcome's reason hold each cause once.
#[test]
fn the_training_binary_reports_a_failure_once_on_stderr_and_in_its_outcome() {
    let directory = tempfile::tempdir().expect("tempdir");
    let config = directory.path().join("config.json");
    std::fs::write(
        &config,
        r#"{"architecture": "cvae", "condition": "mood", "max_epochs": 1}"#,
    )
    .expect("config");
    let outcome_path = directory.path().join("outcome.json");
    let missing_features = directory.path().join("no-features");
    let output = Command::new(env!("CARGO_BIN_EXE_songvae-train"))
        .arg("--features")
        .arg(&missing_features)
        .arg("--config")
        .arg(&config)
        .arg("--out")
        .arg(directory.path().join("out"))
        .arg("--outcome")
        .arg(&outcome_path)
        .arg("--quiet")
        .output()
        .expect("start songvae-train");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    let expected = format!(
        "features directory {}: missing or unreadable; build it with `cargo xtask features`",
        Path::new(&missing_features).join("manifest.json").display()
    );
    assert_eq!(lines[0], format!("error: {expected}"));
    let outcome: RunOutcome =
        serde_json::from_str(&std::fs::read_to_string(&outcome_path).expect("outcome written"))
            .expect("outcome parses");
    assert_eq!(outcome.status, OutcomeStatus::Failed);
    assert_eq!(outcome.reason.as_deref(), Some(expected.as_str()));
    assert_eq!(outcome.result, None);
}
