//! The stacked groups' Adam: the Rust passes of the CPU update give the same bits
//! as the eight tensor operations it replaces, over many steps, for every
//! member with its own learning rate, on lengths that do not fill a vector
//! register; and both are `torch.optim.Adam` (checked against libtorch's
//! own Adam on one member).

use songvae_train::adam::{MemberAdam, MemberStep};
use tch::{Device, Kind, Tensor, nn, nn::OptimizerConfig as _};

/// Parameters and per-step gradients of `members` members for each shape
/// (the member axis first), drawn from libtorch's generator at `seed`:
/// gradients span several orders of magnitude and include exact zeros.
fn draws(seed: i64, shapes: &[Vec<i64>], steps: usize) -> (Vec<Tensor>, Vec<Vec<Tensor>>) {
    tch::manual_seed(seed);
    let mut parameters = Vec::new();
    for shape in shapes {
        parameters.push(Tensor::randn(shape.as_slice(), (Kind::Float, Device::Cpu)));
    }
    let mut gradients = Vec::new();
    for _ in 0..steps {
        let mut step = Vec::new();
        for shape in shapes {
            let scale = Tensor::randn(shape.as_slice(), (Kind::Float, Device::Cpu)).exp() * 1e-3;
            let draw = Tensor::randn(shape.as_slice(), (Kind::Float, Device::Cpu)) * scale;
            let keep = Tensor::rand(shape.as_slice(), (Kind::Float, Device::Cpu)).gt(0.1);
            step.push(draw * keep.to_kind(Kind::Float));
        }
        gradients.push(step);
    }
    (parameters, gradients)
}

fn copies(tensors: &[Tensor]) -> Vec<Tensor> {
    tensors.iter().map(Tensor::copy).collect()
}

#[test]
fn the_rust_passes_give_the_bits_of_the_tensor_operations() {
    tch::set_num_threads(1);
    let members = 3;
    // Lengths per member of 35, 57, 1 and 4,096: ragged tails and a
    // vectorised body.
    let shapes = vec![
        vec![members, 7, 5],
        vec![members, 1, 57],
        vec![members, 1, 1],
        vec![members, 64, 64],
    ];
    let learning_rates = [1e-3, 5e-3, 1e-4];
    let steps = 40;
    let (start, gradients) = draws(7, &shapes, steps);
    let rust_passes = copies(&start);
    let tensors = copies(&start);
    let mut rust_adam = MemberAdam::new(&rust_passes);
    let mut tensor_adam = MemberAdam::new(&tensors);
    for (step, step_gradients) in gradients.iter().enumerate() {
        let mut factors = Vec::new();
        for (member, learning_rate) in learning_rates.iter().enumerate() {
            // A learning-rate decay half way, for the second member, as a
            // plateau decay would.
            let rate = if member == 1 && step >= steps / 2 {
                learning_rate * 0.5
            } else {
                *learning_rate
            };
            factors.push(MemberStep::new(rate, step as i32 + 1));
        }
        rust_adam.step(&rust_passes, step_gradients, &factors);
        tensor_adam.step_tensors(&tensors, step_gradients, &factors);
    }
    for (index, (fast, reference)) in rust_passes.iter().zip(&tensors).enumerate() {
        assert!(
            fast.equal(reference),
            "parameter {index}: largest difference {}",
            (fast - reference).abs().max().double_value(&[])
        );
        assert!(!fast.equal(&start[index]), "parameter {index} did not move");
    }
}

#[test]
fn one_member_moves_as_libtorch_adam_moves_it() {
    tch::set_num_threads(1);
    let shapes = vec![vec![1, 6, 4], vec![1, 1, 4]];
    let steps = 25;
    let learning_rate = 2e-3;
    let (start, gradients) = draws(11, &shapes, steps);
    let ours = copies(&start);
    let mut adam = MemberAdam::new(&ours);
    let store = nn::VarStore::new(Device::Cpu);
    let root = store.root();
    let mut theirs = Vec::new();
    for (index, tensor) in start.iter().enumerate() {
        theirs.push(root.var_copy(&format!("p{index}"), tensor));
    }
    let mut optimiser = nn::Adam::default()
        .build(&store, learning_rate)
        .expect("libtorch's Adam");
    for (step, step_gradients) in gradients.iter().enumerate() {
        adam.step(
            &ours,
            step_gradients,
            &[MemberStep::new(learning_rate, step as i32 + 1)],
        );
        optimiser.zero_grad();
        // The gradient of sum(p * g) with respect to p is g.
        let mut loss = Tensor::zeros([], (Kind::Float, Device::Cpu));
        for (variable, gradient) in theirs.iter().zip(step_gradients) {
            loss += (variable * gradient).sum(Kind::Float);
        }
        loss.backward();
        optimiser.step();
    }
    for (index, (mine, reference)) in ours.iter().zip(&theirs).enumerate() {
        let difference = (mine - reference).abs().max().double_value(&[]);
        let scale = reference.abs().max().double_value(&[]);
        assert!(
            difference <= 1e-6 * scale.max(1.0),
            "parameter {index}: differs from libtorch's Adam by {difference:e}"
        );
    }
}
