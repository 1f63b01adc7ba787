//! Runs trained as one stacked group on the fixture dataset: a member's
//! numbers do not depend on its group, members end on their own, a member
//! that diverges leaves the others alone, and the stacked path agrees with
//! libtorch's own Adam on one unstacked model; runs of the architectures
//! that do not stack, hosted one after another in one process, give the
//! numbers of runs alone.

use std::collections::BTreeMap;

mod common;
use common::fixture_data;

use songvae_run::config::RunConfig;
use songvae_run::device::DeviceChoice;
use songvae_run::result::RunStatus;
use songvae_run::spec::{Activation, Architecture};
use songvae_train::group::train_group;
use songvae_train::hosted::train_in_turn;
use songvae_train::run::{RunOutputs, train_run, train_unstacked};

fn base(architecture: Architecture) -> RunConfig {
    RunConfig {
        architecture,
        latent_dim: 8,
        hidden_dim: 32,
        max_epochs: 10,
        patience: 50,
        batch_size: 16,
        device: DeviceChoice::Cpu,
        ..RunConfig::default()
    }
}

/// Trains `configs` as one group; the outputs by member index, and the
/// order in which the members ended.
fn group(configs: &[RunConfig]) -> (BTreeMap<usize, RunOutputs>, Vec<usize>) {
    one_thread();
    let mut outputs = BTreeMap::new();
    let mut order = Vec::new();
    train_group(
        configs,
        fixture_data(),
        &mut |_, _, _, _| {},
        &mut |index, ended| {
            order.push(index);
            outputs.insert(index, ended);
            Ok(())
        },
    )
    .expect("the group trains");
    (outputs, order)
}

/// The training binaries run libtorch on `intra_op_threads` (1 by
/// default); the tests do the same.
fn one_thread() {
    tch::set_num_threads(1);
}

fn alone(config: &RunConfig) -> RunOutputs {
    one_thread();
    train_run(config, fixture_data(), &mut |_, _, _, _| {}).expect("the run trains")
}

fn assert_same_run(grouped: &RunOutputs, solo: &RunOutputs, what: &str) {
    assert_eq!(grouped.result.status, solo.result.status, "{what}");
    assert_eq!(grouped.result.curves, solo.result.curves, "{what}");
    assert_eq!(
        grouped.result.converged_epoch, solo.result.converged_epoch,
        "{what}"
    );
    assert_eq!(grouped.result.epochs_run, solo.result.epochs_run, "{what}");
    assert_eq!(grouped.latents, solo.latents, "{what}");
    assert_eq!(grouped.clusters, solo.clusters, "{what}");
    assert_eq!(grouped.result.scores, solo.result.scores, "{what}");
}

#[test]
fn a_member_gives_the_numbers_of_its_run_alone() {
    let mut configs = Vec::new();
    for (seed, learning_rate, beta, warmup) in [
        (0, 1e-3, 1.0, 0),
        (1, 5e-3, 4.0, 3),
        (2, 1e-4, 0.25, 0),
        (0, 1e-3, 2.0, 0),
    ] {
        configs.push(RunConfig {
            seed,
            learning_rate,
            beta,
            kl_warmup_epochs: warmup,
            architecture: Architecture::BetaVae,
            gradient_clip: (seed == 1).then_some(1.0),
            ..base(Architecture::BetaVae)
        });
    }
    let (grouped, _) = group(&configs);
    assert_eq!(grouped.len(), configs.len());
    for (index, config) in configs.iter().enumerate() {
        assert_same_run(&grouped[&index], &alone(config), &format!("member {index}"));
    }
    // And the group again: the same numbers.
    let (again, _) = group(&configs);
    for index in 0..configs.len() {
        assert_same_run(
            &again[&index],
            &grouped[&index],
            &format!("rerun of member {index}"),
        );
    }
}

#[test]
fn a_member_with_no_tracks_held_out_gives_the_numbers_of_its_run_alone() {
    let mut configs = Vec::new();
    for (seed, patience, tolerance) in [(0, 50, 0.001), (1, 2, 0.5), (2, 50, 0.001)] {
        configs.push(RunConfig {
            seed,
            patience,
            tolerance,
            validation_fraction: 0.0,
            ..base(Architecture::Ae)
        });
    }
    let (grouped, _) = group(&configs);
    assert_eq!(
        grouped[&1].result.epochs_run, 3,
        "the training loss is watched"
    );
    for (index, config) in configs.iter().enumerate() {
        assert_eq!(grouped[&index].result.validation_tracks, 0);
        assert_same_run(&grouped[&index], &alone(config), &format!("member {index}"));
    }
}

#[test]
fn members_end_on_their_own_and_a_diverging_one_leaves_the_others_alone() {
    let vae = RunConfig {
        activation: Activation::Tanh,
        ..base(Architecture::Vae)
    };
    let configs = vec![
        RunConfig {
            max_epochs: 4,
            ..vae.clone()
        },
        RunConfig {
            // Diverges (exp of a log-variance overflows).
            learning_rate: 10.0,
            max_epochs: 60,
            seed: 3,
            ..vae.clone()
        },
        RunConfig {
            patience: 2,
            tolerance: 0.5,
            seed: 1,
            ..vae.clone()
        },
        RunConfig {
            max_epochs: 10,
            seed: 2,
            ..vae.clone()
        },
    ];
    let (grouped, order) = group(&configs);
    assert_eq!(grouped[&1].result.status, RunStatus::Diverged);
    assert!(grouped[&1].latents.is_none() && grouped[&1].result.scores.is_none());
    assert_eq!(grouped[&0].result.epochs_run, 4);
    assert_eq!(
        grouped[&2].result.epochs_run, 3,
        "a 50 % tolerance stops at the first plateau"
    );
    assert_eq!(grouped[&3].result.epochs_run, 10);
    // Members are handed over as they end.
    let position = |member: usize| order.iter().position(|index| *index == member);
    assert_eq!(order.len(), 4);
    assert!(
        position(2) < position(0) && position(0) < position(3),
        "{order:?}"
    );
    for index in [0, 2, 3] {
        assert_eq!(grouped[&index].result.status, RunStatus::Completed);
        assert_same_run(
            &grouped[&index],
            &alone(&configs[index]),
            &format!("member {index}"),
        );
    }
    let diverged_alone = alone(&configs[1]);
    assert_eq!(diverged_alone.result.status, RunStatus::Diverged);
    assert_eq!(
        grouped[&1].result.diverged_epoch,
        diverged_alone.result.diverged_epoch
    );
}

#[test]
fn the_stacked_path_follows_libtorch_adam_on_one_model() {
    for architecture in [Architecture::Vae, Architecture::Ae] {
        let config = RunConfig {
            max_epochs: 6,
            ..base(architecture)
        };
        let stacked = alone(&config);
        let reference = train_unstacked(&config, fixture_data(), &mut |_, _, _, _| {})
            .expect("the unstacked run trains");
        let curve = &stacked.result.curves.train_loss;
        let expected = &reference.result.curves.train_loss;
        assert_eq!(curve.len(), expected.len());
        for (epoch, (value, reference_value)) in curve.iter().zip(expected).enumerate() {
            let relative = (value - reference_value).abs() / reference_value.abs();
            assert!(
                relative < 1e-4,
                "{architecture:?} epoch {}: {value} against {reference_value}",
                epoch + 1
            );
        }
        assert_eq!(stacked.result.parameters, reference.result.parameters);
    }
}

/// Trains `configs` one after another in this process; each run's outputs
/// (or its error, as text) by index.
fn in_turn(configs: &[RunConfig]) -> BTreeMap<usize, Result<RunOutputs, String>> {
    one_thread();
    let mut outputs = BTreeMap::new();
    train_in_turn(configs, fixture_data(), &mut |index, ended| {
        outputs.insert(index, ended.map_err(|error| error.to_string()));
        Ok(())
    })
    .expect("the runs train in turn");
    outputs
}

#[test]
fn runs_hosted_in_turn_give_the_numbers_of_runs_alone_in_any_order() {
    let mut configs = Vec::new();
    for (seed, architecture) in [
        (0, Architecture::ConvVae),
        (1, Architecture::ConvVae),
        (0, Architecture::Cvae),
        (2, Architecture::Vade),
        (3, Architecture::Idec),
    ] {
        configs.push(RunConfig {
            seed,
            condition: (architecture == Architecture::Cvae).then(|| "language".to_owned()),
            pretrain_epochs: if architecture.clusters_by_design() {
                5
            } else {
                RunConfig::default().pretrain_epochs
            },
            ..base(architecture)
        });
    }
    let forward = in_turn(&configs);
    let mut reversed_configs = configs.clone();
    reversed_configs.reverse();
    let reversed = in_turn(&reversed_configs);
    let count = configs.len();
    for (index, config) in configs.iter().enumerate() {
        let what = format!("run {index} ({})", config.architecture.name());
        let hosted = forward[&index].as_ref().expect("the run trains");
        let hosted_last_first = reversed[&(count - 1 - index)]
            .as_ref()
            .expect("the run trains");
        assert_same_run(hosted, hosted_last_first, &what);
        assert_same_run(hosted, &alone(config), &what);
    }
}

#[test]
fn a_run_hosted_in_turn_that_fails_fails_alone() {
    let failing = RunConfig {
        condition: Some("no_such_label".to_owned()),
        ..base(Architecture::Cvae)
    };
    let next = RunConfig {
        seed: 1,
        ..base(Architecture::ConvVae)
    };
    let outputs = in_turn(&[failing, next.clone()]);
    let error = outputs[&0]
        .as_ref()
        .expect_err("an unknown condition fails");
    assert!(error.contains("no_such_label"), "{error}");
    let trained = outputs[&1].as_ref().expect("the next run still trains");
    assert_same_run(trained, &alone(&next), "the run after a failed one");
}

#[test]
fn runs_hosted_in_turn_must_share_the_process_settings() {
    let one_thread_run = base(Architecture::ConvVae);
    let two_thread_run = RunConfig {
        intra_op_threads: 2,
        ..base(Architecture::ConvVae)
    };
    let error = train_in_turn(
        &[one_thread_run, two_thread_run],
        fixture_data(),
        &mut |_, _| Ok(()),
    )
    .expect_err("different thread counts cannot share a process");
    assert!(error.to_string().contains("group"), "{error}");
}
