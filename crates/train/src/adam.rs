//! Adam with one learning rate per member of a stacked group.
//!
//! The update is `torch.optim.Adam`'s (no weight decay, no `AMSGrad`) in its
//! in-place form, per parameter tensor `[members, ...]` and per member `m`
//! with its step size `s_m = -lr_m / (1 - beta1^t)` and bias correction
//! `c_m = sqrt(1 - beta2^t)`:
//!
//! ```text
//! exp_avg    = lerp(exp_avg, grad, 1 - beta1)
//! exp_avg_sq = lerp(exp_avg_sq, grad * grad, 1 - beta2)
//! param      = param + exp_avg / (((sqrt(exp_avg_sq) / c_m) + eps) / s_m)
//! ```
//!
//! Two implementations compute it, with the same rounding at every step:
//!
//! - **On CPU, two passes in Rust** over each parameter's memory, around
//!   libtorch's square root: the moments in one pass (`update_moments`),
//!   the parameter in the other (`update_parameter`). The tensor form
//!   makes eight libtorch calls and about twenty element reads and writes
//!   per element and step; this makes one call and eleven. For a group of
//!   16 VAEs of hidden width 256 those passes were a fifth of the step
//!   (`docs/performance.md`).
//!   The passes run on the calling thread: a sweep's training processes
//!   use one intra-op thread each (`intra_op_threads`, default 1), and with
//!   more the matrix products still spread over them.
//! - **Elsewhere (CUDA)**, the eight tensor operations (`step_tensors`),
//!   which keep the update on the device.
//!
//! Every operation of the Rust passes rounds as ATen's CPU kernel for the
//! tensor operation does: `lerp_` with a weight below 0.5 is one fused
//! multiply-add, `fma(weight, end - start, start)` (ATen's vectorised
//! `lerp_vec`); the square, divisions and additions are single IEEE
//! operations; `addcdiv_` with value 1 is `param + exp_avg / denom`. The
//! square root stays libtorch's: MKL's vector square root, which ATen
//! calls, differs from the correctly rounded one in the last bit for about
//! one element in six. So the two forms give bit-identical parameters, and
//! a run's numbers are those of the tensor form
//! (`crates/train/tests/adam.rs` checks this on random tensors, with
//! ragged lengths and a learning-rate decay, over many steps). Rust never
//! contracts or reorders floating-point operations on its own, and
//! `f32::mul_add` is an exact fused multiply-add on every target (the
//! processor's instruction where it has one).

use multiversion::multiversion;
use tch::{Device, Kind, Tensor};

/// Adam's constants, as `torch.optim.Adam`'s defaults.
pub const BETA1: f64 = 0.9;
/// The second-moment decay.
pub const BETA2: f64 = 0.999;
/// The denominator's guard.
pub const EPSILON: f64 = 1e-8;

/// One member's factors for one step: `step_size = -lr / (1 - beta1^t)`
/// (negative: the update descends) and `correction = sqrt(1 - beta2^t)`,
/// each rounded to `f32` as the tensor form's per-member factors are.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemberStep {
    /// `-lr / (1 - beta1^t)`.
    pub step_size: f32,
    /// `sqrt(1 - beta2^t)`.
    pub correction: f32,
}

impl MemberStep {
    /// The factors of step `steps` (1 for the first) at `learning_rate`.
    #[must_use]
    pub fn new(learning_rate: f64, steps: i32) -> Self {
        let correction1 = 1.0 - BETA1.powi(steps);
        let correction2 = 1.0 - BETA2.powi(steps);
        Self {
            step_size: (-learning_rate / correction1) as f32,
            correction: correction2.sqrt() as f32,
        }
    }
}

/// Adam's moments for every parameter of a stacked model, with a leading
/// member axis like the parameters.
#[derive(Debug)]
pub struct MemberAdam {
    exp_avg: Vec<Tensor>,
    exp_avg_sq: Vec<Tensor>,
}

impl MemberAdam {
    /// Zero moments shaped like `parameters`.
    #[must_use]
    pub fn new(parameters: &[Tensor]) -> Self {
        let mut exp_avg = Vec::with_capacity(parameters.len());
        let mut exp_avg_sq = Vec::with_capacity(parameters.len());
        for parameter in parameters {
            exp_avg.push(parameter.zeros_like());
            exp_avg_sq.push(parameter.zeros_like());
        }
        Self {
            exp_avg,
            exp_avg_sq,
        }
    }

    /// Keeps the moments of the members at `keep` only (positions on the
    /// member axis, in order; see `StackedDense::retain`).
    pub fn retain(&mut self, keep: &[i64], device: Device) {
        let index = Tensor::from_slice(keep).to_device(device);
        for state in self.exp_avg.iter_mut().chain(self.exp_avg_sq.iter_mut()) {
            *state = state.index_select(0, &index);
        }
    }

    /// One step of every member: `parameters[i]` moves by its gradient
    /// `gradients[i]`, member `m` with `steps[m]`. On CPU with `float`
    /// contiguous tensors this is the two-pass Rust update, otherwise the
    /// tensor form; both give the same bits.
    pub fn step(&mut self, parameters: &[Tensor], gradients: &[Tensor], steps: &[MemberStep]) {
        // Made once per step, and only if a parameter takes the tensor form.
        let mut factors = None;
        for (index, (parameter, gradient)) in parameters.iter().zip(gradients).enumerate() {
            let moments = (&self.exp_avg[index], &self.exp_avg_sq[index]);
            if rust_passes_apply(parameter, gradient, moments, steps.len()) {
                step_rust_passes(parameter, gradient, moments, steps);
            } else {
                let factors =
                    factors.get_or_insert_with(|| DeviceFactors::new(steps, parameter.device()));
                step_tensors(parameter, gradient, moments, factors);
            }
        }
    }

    /// One step of every member in the tensor form only (for the tests that
    /// hold the two forms to the same bits).
    pub fn step_tensors(
        &mut self,
        parameters: &[Tensor],
        gradients: &[Tensor],
        steps: &[MemberStep],
    ) {
        let Some(first) = parameters.first() else {
            return;
        };
        let factors = DeviceFactors::new(steps, first.device());
        for (index, (parameter, gradient)) in parameters.iter().zip(gradients).enumerate() {
            let moments = (&self.exp_avg[index], &self.exp_avg_sq[index]);
            step_tensors(parameter, gradient, moments, &factors);
        }
    }
}

/// The members' step sizes and corrections as `[members]` tensors on the
/// parameters' device, for the tensor form: copied there once per step,
/// not once per parameter.
struct DeviceFactors {
    step_size: Tensor,
    correction: Tensor,
}

impl DeviceFactors {
    fn new(steps: &[MemberStep], device: Device) -> Self {
        let mut step_sizes = Vec::with_capacity(steps.len());
        let mut corrections = Vec::with_capacity(steps.len());
        for step in steps {
            step_sizes.push(step.step_size);
            corrections.push(step.correction);
        }
        Self {
            step_size: Tensor::from_slice(&step_sizes).to_device(device),
            correction: Tensor::from_slice(&corrections).to_device(device),
        }
    }
}

/// Whether the Rust passes can run on these tensors: all on the CPU,
/// `float`, contiguous, of one length that splits evenly into `members`.
fn rust_passes_apply(
    parameter: &Tensor,
    gradient: &Tensor,
    (exp_avg, exp_avg_sq): (&Tensor, &Tensor),
    members: usize,
) -> bool {
    let length = parameter.numel();
    let tensors = [parameter, gradient, exp_avg, exp_avg_sq];
    for tensor in tensors {
        if tensor.device() != Device::Cpu
            || tensor.kind() != Kind::Float
            || !tensor.is_contiguous()
            || tensor.numel() != length
        {
            return false;
        }
    }
    members > 0 && length.is_multiple_of(members)
}

/// The tensor form: eight libtorch operations, each over every member,
/// with the per-member factors broadcast over the member axis.
fn step_tensors(
    parameter: &Tensor,
    gradient: &Tensor,
    (exp_avg, exp_avg_sq): (&Tensor, &Tensor),
    factors: &DeviceFactors,
) {
    let mut shape = vec![factors.step_size.numel() as i64];
    shape.resize(parameter.dim(), 1);
    let step_size = factors.step_size.view(shape.as_slice());
    let correction = factors.correction.view(shape.as_slice());
    tch::no_grad(|| {
        let mut exp_avg = exp_avg.shallow_clone();
        let mut exp_avg_sq = exp_avg_sq.shallow_clone();
        let _ = exp_avg.lerp_(gradient, 1.0 - BETA1);
        let _ = exp_avg_sq.lerp_(&gradient.square(), 1.0 - BETA2);
        let mut denominator = exp_avg_sq.sqrt();
        let _ = denominator.g_div_(&correction);
        let _ = denominator.g_add_scalar_(EPSILON);
        let _ = denominator.g_div_(&step_size);
        let mut target = parameter.shallow_clone();
        let _ = target.addcdiv_(&exp_avg, &denominator);
    });
}

/// The Rust passes on the CPU tensors' own memory, member by member:
/// the moments in one pass, the square root by libtorch, the parameter in
/// a second pass.
#[allow(unsafe_code)] // The passes work in libtorch's memory in place; the checks and the SAFETY note below say why that is sound.
fn step_rust_passes(
    parameter: &Tensor,
    gradient: &Tensor,
    (exp_avg, exp_avg_sq): (&Tensor, &Tensor),
    steps: &[MemberStep],
) {
    let length = parameter.numel();
    let per_member = length / steps.len();
    let weight1 = (1.0 - BETA1) as f32;
    let weight2 = (1.0 - BETA2) as f32;
    // SAFETY: `rust_passes_apply` checked that the four tensors are
    // contiguous `float` CPU tensors of `length` elements, so each data
    // pointer is valid for `length` reads and writes of `f32` while the
    // tensors live (this call). They are distinct allocations: the
    // parameter is a leaf of its own, the gradient a new tensor from the
    // backward pass, the moments `zeros_like` copies (or their
    // `index_select`), so no two slices overlap, and no libtorch operation
    // touches them while a slice exists (one thread; the update runs
    // outside the autograd graph, as under `no_grad`).
    {
        let (gradient, exp_avg, exp_avg_sq) = unsafe {
            (
                std::slice::from_raw_parts(gradient.data_ptr().cast::<f32>(), length),
                std::slice::from_raw_parts_mut(exp_avg.data_ptr().cast::<f32>(), length),
                std::slice::from_raw_parts_mut(exp_avg_sq.data_ptr().cast::<f32>(), length),
            )
        };
        update_moments(gradient, exp_avg, exp_avg_sq, weight1, weight2);
    }
    // libtorch's square root (MKL's vector math on x86-64), not Rust's:
    // the two round differently in the last bit for about one element in
    // six, and this keeps the update bit-identical to the tensor form.
    let root = tch::no_grad(|| exp_avg_sq.sqrt());
    // SAFETY: as above; `root` is a new contiguous `float` CPU tensor of
    // `length` elements that only this function holds.
    let (parameter, exp_avg, root) = unsafe {
        (
            std::slice::from_raw_parts_mut(parameter.data_ptr().cast::<f32>(), length),
            std::slice::from_raw_parts(exp_avg.data_ptr().cast::<f32>(), length),
            std::slice::from_raw_parts(root.data_ptr().cast::<f32>(), length),
        )
    };
    let epsilon = EPSILON as f32;
    for (member, step) in steps.iter().enumerate() {
        let range = member * per_member..(member + 1) * per_member;
        update_parameter(
            &mut parameter[range.clone()],
            &exp_avg[range.clone()],
            &root[range],
            epsilon,
            *step,
        );
    }
}

/// The moments' pass: both `lerp_`s as ATen's vectorised kernel rounds
/// them (one fused multiply-add each).
#[multiversion(targets("x86_64+avx2+fma"))]
fn update_moments(
    gradient: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    weight1: f32,
    weight2: f32,
) {
    let elements = gradient
        .iter()
        .zip(exp_avg.iter_mut())
        .zip(exp_avg_sq.iter_mut());
    for ((&gradient, exp_avg), exp_avg_sq) in elements {
        *exp_avg = weight1.mul_add(gradient - *exp_avg, *exp_avg);
        let square = gradient * gradient;
        *exp_avg_sq = weight2.mul_add(square - *exp_avg_sq, *exp_avg_sq);
    }
}

/// The parameter's pass for one member: the denominator's division,
/// addition and division, then `addcdiv_`, each one IEEE operation.
#[multiversion(targets("x86_64+avx2+fma"))]
fn update_parameter(
    parameter: &mut [f32],
    exp_avg: &[f32],
    root: &[f32],
    epsilon: f32,
    step: MemberStep,
) {
    let elements = parameter.iter_mut().zip(exp_avg).zip(root);
    for ((parameter, &exp_avg), &root) in elements {
        let denominator = ((root / step.correction) + epsilon) / step.step_size;
        *parameter += exp_avg / denominator;
    }
}
