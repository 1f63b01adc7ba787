//! The processor a run computes on and the CPU kernel paths it may take.
//!
//! libtorch's CPU math comes from MKL (matrix products), oneDNN
//! (convolutions and some fused layers) and ATen's own vectorised kernels
//! (element-wise maths, reductions), and each picks its code path for the
//! processor it finds: an Intel Xeon with AVX-512 and an AMD EPYC with AVX2
//! run different kernels, which round differently, so the same build,
//! config and seed give different numbers on the two. [`Kernels::Strict`]
//! pins all three:
//!
//! - MKL to its processor-independent branch, `MKL_CBWR=COMPATIBLE`: by
//!   Intel's documentation the only conditional-numerical-reproducibility
//!   branch that non-Intel processors run (`MKL_CBWR=AVX2`, used before,
//!   falls back to MKL's automatic branch on AMD: measured, the fixture
//!   study made on an AMD EPYC in that mode and rerun on an Intel Xeon
//!   agreed in only its 21 baseline rows of 126);
//! - oneDNN to its AVX2 kernels, `ONEDNN_MAX_CPU_ISA=AVX2`;
//! - ATen to its AVX2 kernels, `ATEN_CPU_CAPABILITY=avx2` (it picks AVX-512
//!   where the processor has it).
//!
//! AVX2 is on every x86-64 processor since Intel Haswell (2013) and AMD
//! Excavator (2015). MKL's compatible branch is slower: 15-35% fewer steps
//! per second on an AMD EPYC, about 1.6x the training time on an Intel Xeon
//! (`docs/performance.md`), so [`Kernels::Native`], which leaves every
//! choice to the libraries, is the default and `strict` is asked for (a
//! config's `kernels`, `--kernels strict` of a sweep) where numbers must be
//! compared across machines.
//!
//! The libraries read their variables once, when they initialise, so the
//! training binary sets them before its first tensor (it starts itself again
//! with them set when they differ), and records them with the processor in
//! `result.json`. CUDA kernels are not affected.

use serde::{Deserialize, Serialize};

/// Which CPU kernel paths libtorch's math libraries may take.
///
/// | value | variables | effect |
/// |---|---|---|
/// | `native` (default) | none set | each library picks the fastest path for the processor: the same numbers on the same machine |
/// | `strict` | `MKL_CBWR=COMPATIBLE`, `ONEDNN_MAX_CPU_ISA=AVX2`, `ATEN_CPU_CAPABILITY=avx2` | the same kernels on Intel and AMD x86-64 processors with AVX2, so the same numbers |
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Kernels {
    /// Pinned to processor-independent paths: reproducible across x86-64 vendors.
    Strict,
    /// The libraries' own choice for the processor.
    #[default]
    Native,
}

impl std::str::FromStr for Kernels {
    type Err = String;

    /// `strict` or `native`, as in configs (the command line's `--kernels`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "strict" => Ok(Self::Strict),
            "native" => Ok(Self::Native),
            other => Err(format!(
                "invalid kernels '{other}': expected strict or native"
            )),
        }
    }
}

/// Variables that select CPU kernels, recorded in `result.json` as set.
pub const KERNEL_VARIABLES: [&str; 3] = ["MKL_CBWR", "ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY"];

impl Kernels {
    /// The variables this mode sets, `(name, value)`; none for `native`.
    #[must_use]
    pub fn environment(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Strict => &[
                ("MKL_CBWR", "COMPATIBLE"),
                ("ONEDNN_MAX_CPU_ISA", "AVX2"),
                ("ATEN_CPU_CAPABILITY", "avx2"),
            ],
            Self::Native => &[],
        }
    }

    /// The mode as written in configs.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Strict => "strict",
            Self::Native => "native",
        }
    }
}

/// The variable of glibc's allocator settings, read once when a process
/// starts.
pub const ALLOCATOR_VARIABLE: &str = "GLIBC_TUNABLES";

/// glibc's allocator settings for a training process: freed memory stays
/// in the heap (`trim_threshold` 1 GiB) and blocks up to 32 MiB come from
/// the heap (`mmap_threshold`, glibc's own ceiling for its adaptive
/// threshold on 64-bit systems, from the start). A training step frees and
/// allocates the same large tensors again every step; with glibc's
/// defaults the freed ones went back to the kernel and every step faulted
/// their pages in anew: a group of 16 VAEs of hidden width 256 spent
/// 3-5 s of 15 s in the kernel, 0.5 s with these settings, for the same
/// numbers (`docs/performance.md`). Both are needed: either alone turns
/// off glibc's adaptive threshold and is slower than neither. Peak memory
/// is unchanged; the freed memory is only not returned until the process
/// ends.
pub const ALLOCATOR_TUNABLES: &str =
    "glibc.malloc.trim_threshold=1073741824:glibc.malloc.mmap_threshold=33554432";

/// Every variable a training process must have from its start, `(name,
/// value)`: the kernel variables of `kernels`, and [`ALLOCATOR_TUNABLES`]
/// on glibc systems unless `GLIBC_TUNABLES` is already set
/// (`current_tunables`: a user's own settings stand).
#[must_use]
pub fn training_environment(
    kernels: Kernels,
    current_tunables: Option<&str>,
) -> Vec<(&'static str, &'static str)> {
    let mut variables = kernels.environment().to_vec();
    if cfg!(all(target_os = "linux", target_env = "gnu")) && current_tunables.is_none() {
        variables.push((ALLOCATOR_VARIABLE, ALLOCATOR_TUNABLES));
    }
    variables
}

/// The kernel variables of this process as `NAME=value`, unset ones left out.
#[must_use]
pub fn kernel_environment() -> Vec<String> {
    let mut set = Vec::new();
    for name in KERNEL_VARIABLES {
        if let Ok(value) = std::env::var(name) {
            set.push(format!("{name}={value}"));
        }
    }
    set
}

/// The processor's model name from `/proc/cpuinfo`; `None` where there is none.
#[must_use]
pub fn processor() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    for line in info.lines() {
        if let Some((key, value)) = line.split_once(':')
            && key.trim() == "model name"
        {
            return Some(value.trim().to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_training_process_gets_its_kernels_and_the_allocator_settings() {
        let strict = training_environment(Kernels::Strict, None);
        assert_eq!(&strict[..3], Kernels::Strict.environment());
        let native = training_environment(Kernels::Native, None);
        if cfg!(all(target_os = "linux", target_env = "gnu")) {
            assert_eq!(strict[3], (ALLOCATOR_VARIABLE, ALLOCATOR_TUNABLES));
            assert_eq!(native, vec![(ALLOCATOR_VARIABLE, ALLOCATOR_TUNABLES)]);
        } else {
            assert!(native.is_empty(), "{native:?}");
        }
        // A user's own allocator settings stand.
        let users = training_environment(Kernels::Native, Some("glibc.malloc.arena_max=2"));
        assert!(users.is_empty(), "{users:?}");
    }
}
