//! `converged_epoch` on the curves a study meets: a spec (a validation
//! curve) goes in, an epoch comes out.

use songvae_run::result::converged_epoch;

/// The default `tolerance` of a run config: 0.1% is progress.
const TOLERANCE: f64 = 1e-3;

/// `epochs` losses of `start * rate^epoch` (a learner of rate `rate`).
fn geometric(start: f64, floor: f64, rate: f64, epochs: usize) -> Vec<f64> {
    let mut curve = Vec::new();
    for epoch in 0..epochs {
        curve.push(floor + (start - floor) * rate.powi(epoch as i32));
    }
    curve
}

#[test]
fn a_fast_learner_converges_early_and_a_slow_one_late() {
    // Fast: 50% of the remaining gap each epoch, 100 epochs.
    let fast = geometric(90.0, 50.0, 0.5, 100);
    // Steady slow learner: a straight descent, 0.004 per epoch (its
    // relative improvement, 5e-5, is under any usual tolerance).
    let slow: Vec<f64> = (0..100)
        .map(|epoch| 88.0 - 0.004 * f64::from(epoch))
        .collect();
    let fast_epoch = converged_epoch(&fast, 0, TOLERANCE).unwrap();
    let slow_epoch = converged_epoch(&slow, 0, TOLERANCE).unwrap();
    // Fast: the gap falls under 5% of 40 after 5 halvings.
    assert_eq!(fast_epoch, 6);
    // Slow: 95% of a straight descent over 99 steps is done after 94.05
    // of them, at epoch 96 of 100.
    assert_eq!(slow_epoch, 96);
    assert!(slow_epoch > fast_epoch);
}

#[test]
fn a_plateau_then_a_drop_converges_after_the_drop() {
    let mut curve = vec![90.0; 30];
    curve.extend(geometric(90.0, 60.0, 0.6, 40));
    let epoch = converged_epoch(&curve, 0, TOLERANCE).unwrap();
    assert!(epoch > 30, "converged at {epoch}, inside the plateau");
    assert!(epoch < 45, "converged at {epoch}, long after the drop");
}

#[test]
fn noise_does_not_move_it_much() {
    let clean = geometric(90.0, 50.0, 0.8, 120);
    let mut noisy = clean.clone();
    // Deterministic noise of +-0.5 (1.25% of the improvement).
    for (epoch, loss) in noisy.iter_mut().enumerate() {
        *loss += 0.5 * ((epoch as f64 * 2.3).sin());
    }
    let clean_epoch = converged_epoch(&clean, 0, TOLERANCE).unwrap() as i64;
    let noisy_epoch = converged_epoch(&noisy, 0, TOLERANCE).unwrap() as i64;
    assert!(
        (clean_epoch - noisy_epoch).abs() <= 3,
        "{clean_epoch} vs {noisy_epoch}"
    );
}

#[test]
fn warm_up_epochs_are_not_counted_and_edge_cases_are_defined() {
    // The loss rises during a 10-epoch warm-up (KL weight growing), then falls.
    let mut curve: Vec<f64> = (0..10).map(|epoch| 50.0 + f64::from(epoch)).collect();
    curve.extend(geometric(60.0, 40.0, 0.5, 30));
    let epoch = converged_epoch(&curve, 10, TOLERANCE).unwrap();
    assert!(epoch > 10 && epoch < 20, "{epoch}");
    // A run that did not learn (a flat curve, as a learning rate too small
    // for a VAE to leave its collapsed start) has no converged epoch.
    assert_eq!(converged_epoch(&[5.0, 5.0, 6.0], 0, TOLERANCE), None);
    assert_eq!(converged_epoch(&[5.0], 0, TOLERANCE), None);
    let flat: Vec<f64> = (0..60)
        .map(|epoch| 56.24 - 1e-4 * f64::from(epoch % 7))
        .collect();
    assert_eq!(converged_epoch(&flat, 0, TOLERANCE), None);
    // Diverged or empty: none.
    assert_eq!(converged_epoch(&[5.0, f64::NAN], 0, TOLERANCE), None);
    assert_eq!(converged_epoch(&[], 0, TOLERANCE), None);
    // A warm-up as long as the run leaves one epoch: no progress to measure.
    assert_eq!(converged_epoch(&[3.0, 2.0, 1.0], 5, TOLERANCE), None);
    assert_eq!(converged_epoch(&[4.0, 3.0, 2.0], 1, TOLERANCE), Some(3));
}
