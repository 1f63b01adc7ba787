//! VaDE's mixture prior and IDEC's clustering layer: valid parameters
//! whatever the optimiser does, and losses that reduce to known closed forms.

use ndarray::{Array1, Array2, array};
use songvae_models::idec::{StudentTClusters, clustering_loss, target_distribution};
use songvae_models::vade::{LOG_VARIANCE_BOUND, MixturePrior};
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};

fn assert_valid(prior: &MixturePrior, what: &str) {
    let parameters = prior.parameters();
    let total: f64 = parameters.weights.iter().sum();
    assert!((total - 1.0).abs() < 1e-5, "{what}: weights sum to {total}");
    for weight in &parameters.weights {
        assert!(
            weight.is_finite() && *weight > 0.0,
            "{what}: weight {weight}"
        );
    }
    let low = (-LOG_VARIANCE_BOUND).exp() * (1.0 - 1e-4);
    let high = LOG_VARIANCE_BOUND.exp() * (1.0 + 1e-4);
    for variance in &parameters.variances {
        assert!(
            (low..=high).contains(variance),
            "{what}: variance {variance} outside [{low}, {high}]"
        );
    }
    assert!(
        parameters.means.iter().all(|mean| mean.is_finite()),
        "{what}"
    );
}

fn tensor(values: &Array2<f64>) -> Tensor {
    let flat: Vec<f32> = values.iter().map(|value| *value as f32).collect();
    Tensor::from_slice(&flat).view([values.nrows() as i64, values.ncols() as i64])
}

#[test]
fn extreme_starting_values_are_brought_inside_the_bounds() {
    let store = nn::VarStore::new(Device::Cpu);
    let prior = MixturePrior::from_mixture(
        &store.root(),
        &Array1::from(vec![0.0, 0.5, 0.5]),
        &array![[0.0, 1.0], [2.0, -1.0], [5.0, 5.0]],
        &array![[1e-30, 1.0], [1e30, 2.0], [0.5, f64::MIN_POSITIVE]],
    );
    assert_valid(&prior, "start");
    let parameters = prior.parameters();
    assert!((parameters.variances[[0, 1]] - 1.0).abs() < 1e-5);
    assert!((parameters.variances[[1, 1]] - 2.0).abs() < 1e-5);
    assert!((parameters.weights[1] - 0.5).abs() < 1e-5);
}

#[test]
fn parameters_stay_valid_under_a_reckless_optimiser() {
    let store = nn::VarStore::new(Device::Cpu);
    let prior = MixturePrior::from_mixture(
        &store.root(),
        &Array1::from(vec![0.25; 4]),
        &array![[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]],
        &Array2::from_elem((4, 2), 0.1),
    );
    // Learning rate 5 on the mixture KL of points that all sit on one
    // component: the others' weights and variances are driven to extremes.
    let mut optimiser = nn::Adam::default().build(&store, 5.0).expect("adam");
    let mean = Tensor::zeros([64, 2], (Kind::Float, Device::Cpu));
    let log_variance = Tensor::full([64, 2], -20.0, (Kind::Float, Device::Cpu));
    for step in 0..300 {
        let kl = prior
            .kl_per_track(&mean, &log_variance, &mean)
            .mean(Kind::Float);
        optimiser.zero_grad();
        kl.backward();
        optimiser.step();
        if step % 50 == 49 {
            assert_valid(&prior, &format!("step {step}"));
        }
    }
}

#[test]
fn one_component_kl_is_the_gaussian_kl() {
    // KL(N(m, s^2) || N(mu, sigma^2)) = 1/2 sum (ln sigma^2 - ln s^2 + (s^2 + (m - mu)^2) / sigma^2 - 1)
    let store = nn::VarStore::new(Device::Cpu);
    let mu = array![[0.5, -1.0, 2.0]];
    let sigma2 = array![[0.7, 1.5, 0.2]];
    let prior = MixturePrior::from_mixture(&store.root(), &Array1::from(vec![1.0]), &mu, &sigma2);
    let m = array![[0.0, 0.0, 0.0], [1.0, -2.0, 2.5]];
    let log_s2 = array![[0.0, -1.0, 0.3], [-2.0, 0.5, -0.1]];
    let ours = prior.kl_per_track(&tensor(&m), &tensor(&log_s2), &tensor(&m));
    for row in 0..2 {
        let mut expected = 0.0;
        for column in 0..3 {
            let s2 = log_s2[[row, column]].exp();
            let difference = m[[row, column]] - mu[[0, column]];
            expected += 0.5
                * (sigma2[[0, column]].ln() - log_s2[[row, column]]
                    + (s2 + difference * difference) / sigma2[[0, column]]
                    - 1.0);
        }
        let value = ours.double_value(&[row as i64]);
        assert!(
            (value - expected).abs() < 1e-4 * expected.abs().max(1.0),
            "row {row}: {value} vs {expected}"
        );
    }
}

#[test]
fn responsibilities_follow_the_nearest_component() {
    let store = nn::VarStore::new(Device::Cpu);
    let prior = MixturePrior::from_mixture(
        &store.root(),
        &Array1::from(vec![0.5, 0.5]),
        &array![[-3.0, 0.0], [3.0, 0.0]],
        &Array2::from_elem((2, 2), 1.0),
    );
    let z = tensor(&array![[-2.5, 0.1], [2.0, -0.3], [0.0, 0.0]]);
    let gamma = prior.log_responsibilities(&z).exp();
    assert!(gamma.double_value(&[0, 0]) > 0.99);
    assert!(gamma.double_value(&[1, 1]) > 0.99);
    assert!(
        (gamma.double_value(&[2, 0]) - 0.5).abs() < 1e-5,
        "equidistant"
    );
}

#[test]
fn soft_assignments_and_targets_are_distributions_and_the_loss_is_a_kl() {
    let store = nn::VarStore::new(Device::Cpu);
    let clusters =
        StudentTClusters::from_centres(&store.root(), &array![[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]]);
    let z = tensor(&array![[0.1, 0.2], [3.5, 0.5], [0.3, 3.9], [2.0, 2.0]]);
    let q = clusters.soft_assignments(&z);
    // Row 0 by hand: kernels 1/(1 + 0.05), 1/(1 + 15.25), 1/(1 + 14.45).
    let kernels = [1.0 / 1.05, 1.0 / 16.25, 1.0 / 15.45];
    let total: f64 = kernels.iter().sum();
    for (column, kernel) in kernels.iter().enumerate() {
        let value = q.double_value(&[0, column as i64]);
        assert!(
            (value - kernel / total).abs() < 1e-6,
            "q[0, {column}] = {value}"
        );
    }
    let p = target_distribution(&q);
    for row in 0..4 {
        let q_row: f64 = (0..3).map(|column| q.double_value(&[row, column])).sum();
        let p_row: f64 = (0..3).map(|column| p.double_value(&[row, column])).sum();
        assert!((q_row - 1.0).abs() < 1e-6 && (p_row - 1.0).abs() < 1e-6);
    }
    // The target sharpens: each confident row's largest entry grows.
    assert!(p.double_value(&[0, 0]) > q.double_value(&[0, 0]));
    assert!(clustering_loss(&q, &q).double_value(&[]).abs() < 1e-7);
    assert!(clustering_loss(&p, &q).double_value(&[]) > 0.0);
}
