//! Seeded parameter initialisation on the Rust side.
//!
//! tch's layer constructors draw from libtorch's process-wide generator,
//! which other runs in the same process also draw from. [`initialise`]
//! overwrites every parameter from a generator owned by the run, so the same
//! seed gives the same weights whatever else the process does.
//!
//! The distribution is `PyTorch`'s default for `Linear`, `Conv1d` and
//! `ConvTranspose1d`: weights and biases uniform in `±1/sqrt(fan_in)` (Kaiming
//! uniform with `a = sqrt(5)`), with `fan_in` computed as `PyTorch` does from
//! the weight's second dimension times its kernel size.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor, nn};

/// Overwrites every variable of `store` with draws from `generator`.
///
/// Variables are visited in name order, so the draws do not depend on hash
/// order. A bias uses the `fan_in` of the weight beside it (same prefix).
pub fn initialise(store: &nn::VarStore, generator: &mut ChaCha8Rng) {
    let variables = store.variables();
    let mut names: Vec<&String> = variables.keys().collect();
    names.sort();
    for name in names {
        let variable = &variables[name];
        let weight_name = match name.strip_suffix(".bias") {
            Some(prefix) => format!("{prefix}.weight"),
            None => name.clone(),
        };
        let weight_size = variables
            .get(&weight_name)
            .map_or_else(|| variable.size(), Tensor::size);
        let fan_in = fan_in(&weight_size);
        let bound = 1.0 / (fan_in as f64).sqrt();
        let count = variable.numel();
        let mut values = Vec::with_capacity(count);
        for _ in 0..count {
            values.push(generator.random_range(-bound..bound) as f32);
        }
        let drawn = Tensor::from_slice(&values)
            .view(variable.size().as_slice())
            .to_kind(Kind::Float)
            .to_device(variable.device());
        tch::no_grad(|| {
            let mut target = variable.shallow_clone();
            target.copy_(&drawn);
        });
    }
}

/// `PyTorch`'s `fan_in`: `size(1) * prod(size[2..])`, or the length of a vector.
fn fan_in(size: &[i64]) -> i64 {
    match size {
        [] => 1,
        [length] => (*length).max(1),
        [_, second, kernel @ ..] => {
            let mut fan_in = *second;
            for extent in kernel {
                fan_in *= *extent;
            }
            fan_in.max(1)
        }
    }
}

/// A tensor of standard normal draws of the given shape, from `generator`.
pub fn standard_normal(generator: &mut ChaCha8Rng, shape: &[i64], device: Device) -> Tensor {
    let count: i64 = shape.iter().product();
    let mut values = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    for _ in 0..count {
        let draw: f32 = generator.sample(rand_distr::StandardNormal);
        values.push(draw);
    }
    Tensor::from_slice(&values).view(shape).to_device(device)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn fan_in_follows_pytorch() {
        assert_eq!(fan_in(&[64, 32]), 32);
        assert_eq!(fan_in(&[64, 20, 5]), 100);
        assert_eq!(fan_in(&[7]), 7);
    }

    #[test]
    fn same_seed_same_weights_and_bounds_hold() {
        let build = |seed: u64| {
            let store = nn::VarStore::new(Device::Cpu);
            let _layer = nn::linear(store.root() / "layer", 25, 10, nn::LinearConfig::default());
            initialise(&store, &mut ChaCha8Rng::seed_from_u64(seed));
            let variables = store.variables();
            (
                variables["layer.weight"].copy(),
                variables["layer.bias"].copy(),
            )
        };
        let (weight_a, bias_a) = build(7);
        let (weight_b, bias_b) = build(7);
        let (weight_c, _) = build(8);
        assert!(weight_a.equal(&weight_b) && bias_a.equal(&bias_b));
        assert!(!weight_a.equal(&weight_c));
        // fan_in 25 -> bound 0.2, for the weight and for its bias.
        assert!(weight_a.abs().max().double_value(&[]) < 0.2);
        assert!(bias_a.abs().max().double_value(&[]) < 0.2);
        assert!(weight_a.abs().max().double_value(&[]) > 0.15);
    }

    #[test]
    fn normal_draws_are_seeded() {
        let a = standard_normal(&mut ChaCha8Rng::seed_from_u64(1), &[100, 4], Device::Cpu);
        let b = standard_normal(&mut ChaCha8Rng::seed_from_u64(1), &[100, 4], Device::Cpu);
        assert!(a.equal(&b));
        assert_eq!(a.size(), vec![100, 4]);
        let mean = a.mean(Kind::Float).double_value(&[]);
        assert!(mean.abs() < 0.2, "{mean}");
    }
}
