//! The processor a run computes on and the CPU kernel paths it may take.
//!
//! libtorch's CPU math comes from MKL (matrix products) and oneDNN
//! (convolutions and some fused layers), and both pick their code path for
//! the processor they find: an Intel Xeon with AVX-512 and an AMD EPYC with
//! AVX2 run different kernels, which round differently, so the same build,
//! config and seed give different numbers on the two. [`Kernels::Strict`]
//! pins both libraries to their AVX2 paths (every x86-64 processor since
//! Intel Haswell, 2013, and AMD Excavator, 2015) with MKL's strict
//! conditional numerical reproducibility (results independent of memory
//! alignment as well). [`Kernels::Native`] leaves the choice to the
//! libraries.
//!
//! Both libraries read their variables once, when they initialise, so the
//! training binary sets them before its first tensor (it starts itself again
//! with them set when they differ), and records them with the processor in
//! `result.json`. CUDA kernels are not affected.

use serde::{Deserialize, Serialize};

/// Which CPU kernel paths libtorch's math libraries may take.
///
/// | value | variables | effect |
/// |---|---|---|
/// | `strict` (default) | `MKL_CBWR=AVX2,STRICT`, `ONEDNN_MAX_CPU_ISA=AVX2` | the same kernels, so the same numbers, on Intel and AMD x86-64 processors with AVX2 |
/// | `native` | none set | each library picks the fastest path for the processor |
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Kernels {
    /// Pinned to the AVX2 paths: reproducible across x86-64 vendors.
    #[default]
    Strict,
    /// The libraries' own choice for the processor.
    Native,
}

/// Variables that select CPU kernels, recorded in `result.json` as set.
pub const KERNEL_VARIABLES: [&str; 2] = ["MKL_CBWR", "ONEDNN_MAX_CPU_ISA"];

impl Kernels {
    /// The variables this mode sets, `(name, value)`; none for `native`.
    #[must_use]
    pub fn environment(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Strict => &[("MKL_CBWR", "AVX2,STRICT"), ("ONEDNN_MAX_CPU_ISA", "AVX2")],
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
