//! Finding or installing libtorch 2.11.0, and running cargo against it.
//!
//! `torch-sys` has no network access in its build script, so this step runs
//! first in every xtask command that builds or runs tch code. Order:
//!
//! 1. `LIBTORCH` set: that libtorch (a user's own CPU or CUDA download).
//! 2. `LIBTORCH_USE_PYTORCH` set: the active Python's torch.
//! 3. A cached venv at `${XDG_CACHE_HOME:-$HOME/.cache}/songvae/torch-2.11.0/`
//!    holding `torch==2.11.0`, with the record this step wrote after it
//!    verified the install: reused without starting Python (well under 2 s).
//! 4. Otherwise that venv is created and `torch==2.11.0` installed into it
//!    from the Python package registry, then verified.
//!
//! The cargo environment then names that libtorch the way `torch-sys` reads
//! it. The values are stable between calls, so cargo never rebuilds
//! `torch-sys` needlessly.

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// The `PyTorch` release that `tch 0.24.0` binds, and that the GPU machines ship.
pub const TORCH_VERSION: &str = "2.11.0";

/// Free disk needed for a fresh install: the wheels unpack to about 4.7 GB.
const INSTALL_DISK_BYTES: u64 = 7 * 1024 * 1024 * 1024;

/// Name of the record written into the venv once the install is verified.
const RECORD_FILE: &str = "songvae-libtorch.json";

/// Prints torch's version, C++ ABI and directory as one JSON object.
const PROBE_SCRIPT: &str = "import json, os, torch; print(json.dumps({\
'version': torch.__version__, \
'cxx11_abi': bool(torch._C._GLIBCXX_USE_CXX11_ABI), \
'torch_dir': os.path.dirname(torch.__file__)}))";

/// Where the libtorch in use came from, in resolution order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The `LIBTORCH` environment variable.
    LibtorchVariable,
    /// `LIBTORCH_USE_PYTORCH`: the active Python's torch.
    ActivePython,
    /// The project's cached venv, reused.
    CachedVenv,
    /// The project's venv, installed by this call.
    NewVenv,
}

/// The environment this step reads, captured once so resolution can be
/// tested with temporary directories.
#[derive(Clone, Debug)]
pub struct SetupInputs {
    /// Value of `LIBTORCH`, when set and not empty.
    pub libtorch: Option<PathBuf>,
    /// Whether `LIBTORCH_USE_PYTORCH` is set.
    pub use_pytorch: bool,
    /// `${XDG_CACHE_HOME:-$HOME/.cache}/songvae`.
    pub cache_root: PathBuf,
}

impl SetupInputs {
    /// Reads the process environment.
    pub fn from_environment() -> Result<Self> {
        let libtorch = std::env::var_os("LIBTORCH")
            .filter(|value| !value.is_empty())
            .map(PathBuf::from);
        let use_pytorch = std::env::var_os("LIBTORCH_USE_PYTORCH").is_some();
        let cache_home = if let Some(cache_home) =
            std::env::var_os("XDG_CACHE_HOME").filter(|value| !value.is_empty())
        {
            PathBuf::from(cache_home)
        } else {
            let home = std::env::var_os("HOME")
                .filter(|value| !value.is_empty())
                .context("neither XDG_CACHE_HOME nor HOME is set; set one so setup knows where to cache libtorch")?;
            PathBuf::from(home).join(".cache")
        };
        Ok(Self {
            libtorch,
            use_pytorch,
            cache_root: cache_home.join("songvae"),
        })
    }

    /// The venv that steps 3 and 4 use.
    pub fn venv_dir(&self) -> PathBuf {
        self.cache_root.join(format!("torch-{TORCH_VERSION}"))
    }
}

/// What resolution decided, before anything slow runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// Use the libtorch directory named by `LIBTORCH`.
    LibtorchDir(PathBuf),
    /// Ask the active Python for its torch.
    ActivePython,
    /// Reuse the verified venv described by this record.
    ReuseVenv(VenvRecord),
    /// Create the venv at this path and install torch into it.
    InstallVenv(PathBuf),
}

/// Written into the venv after a verified install; its presence is what
/// makes the venv reusable without starting Python.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenvRecord {
    /// `torch.__version__`, for example `2.11.0+cu130`.
    pub version: String,
    /// Whether torch was built with the C++11 ABI (`LIBTORCH_CXX11_ABI`).
    pub cxx11_abi: bool,
    /// The installed `torch` package directory (holds `include/` and `lib/`).
    pub torch_dir: PathBuf,
}

/// A resolved libtorch.
#[derive(Clone, Debug)]
pub struct Libtorch {
    /// Where it came from.
    pub origin: Origin,
    /// Its `lib` directory.
    pub lib_dir: PathBuf,
    /// Its version as reported, or `unknown` for a libtorch without a version file.
    pub version: String,
    /// Variables to set for cargo so that `torch-sys` finds this libtorch.
    pub cargo_env: Vec<(String, OsString)>,
}

impl Libtorch {
    /// Whether this libtorch was built with CUDA (it ships `libtorch_cuda.so`).
    pub fn has_cuda_build(&self) -> bool {
        self.lib_dir.join("libtorch_cuda.so").exists()
    }

    /// A `cargo` command with this libtorch's environment.
    pub fn cargo(&self) -> Command {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
        let mut command = Command::new(cargo);
        for (key, value) in &self.cargo_env {
            command.env(key, value);
        }
        command
    }
}

/// Decides where libtorch comes from. Reads the filesystem but starts nothing.
pub fn plan(inputs: &SetupInputs) -> Result<Plan> {
    if let Some(libtorch) = &inputs.libtorch {
        if !libtorch.join("lib").is_dir() {
            bail!(
                "LIBTORCH is set to {} but it has no lib/ directory; {}",
                libtorch.display(),
                three_ways(inputs)
            );
        }
        return Ok(Plan::LibtorchDir(libtorch.clone()));
    }
    if inputs.use_pytorch {
        return Ok(Plan::ActivePython);
    }
    let venv = inputs.venv_dir();
    let record_path = venv.join(RECORD_FILE);
    if record_path.is_file() {
        let text = fs::read_to_string(&record_path)
            .with_context(|| format!("cannot read {}", record_path.display()))?;
        if let Ok(record) = serde_json::from_str::<VenvRecord>(&text)
            && record.torch_dir.join("lib").join("libtorch.so").is_file()
        {
            return Ok(Plan::ReuseVenv(record));
        }
    }
    Ok(Plan::InstallVenv(venv))
}

/// Carries out a plan: probes, installs when needed, and checks the version.
pub fn realise(plan: Plan, inputs: &SetupInputs) -> Result<Libtorch> {
    let libtorch = match plan {
        Plan::LibtorchDir(dir) => Libtorch {
            origin: Origin::LibtorchVariable,
            lib_dir: dir.join("lib"),
            version: libtorch_dir_version(&dir).unwrap_or_else(|| "unknown".to_owned()),
            cargo_env: Vec::new(),
        },
        Plan::ActivePython => {
            let python = if std::env::var_os("VIRTUAL_ENV").is_some() {
                "python"
            } else {
                "python3"
            };
            let record = probe(Path::new(python)).with_context(|| {
                format!(
                    "LIBTORCH_USE_PYTORCH is set but `{python}` cannot import torch; {}",
                    three_ways(inputs)
                )
            })?;
            Libtorch {
                origin: Origin::ActivePython,
                lib_dir: record.torch_dir.join("lib"),
                version: record.version,
                cargo_env: Vec::new(),
            }
        }
        Plan::ReuseVenv(record) => venv_libtorch(Origin::CachedVenv, record),
        Plan::InstallVenv(venv) => {
            let record = install_venv(&venv, inputs)?;
            venv_libtorch(Origin::NewVenv, record)
        }
    };
    let release = libtorch.version.split('+').next().unwrap_or_default();
    if libtorch.version != "unknown" && release != TORCH_VERSION {
        bail!(
            "libtorch at {} is version {}, but tch 0.24.0 needs {TORCH_VERSION}; {}",
            libtorch.lib_dir.display(),
            libtorch.version,
            three_ways(inputs)
        );
    }
    Ok(libtorch)
}

/// Plans and realises in one step, as every command that needs libtorch does.
pub fn ensure() -> Result<Libtorch> {
    let inputs = SetupInputs::from_environment()?;
    let plan = plan(&inputs)?;
    realise(plan, &inputs)
}

fn venv_libtorch(origin: Origin, record: VenvRecord) -> Libtorch {
    let abi = if record.cxx11_abi { "1" } else { "0" };
    Libtorch {
        origin,
        lib_dir: record.torch_dir.join("lib"),
        version: record.version,
        cargo_env: vec![
            ("LIBTORCH".to_owned(), record.torch_dir.into_os_string()),
            ("LIBTORCH_CXX11_ABI".to_owned(), OsString::from(abi)),
        ],
    }
}

/// The version a libtorch directory states: `build-version` in the libtorch
/// archives, `version.py` in a Python package.
fn libtorch_dir_version(dir: &Path) -> Option<String> {
    if let Ok(text) = fs::read_to_string(dir.join("build-version")) {
        return Some(text.trim().to_owned());
    }
    let text = fs::read_to_string(dir.join("version.py")).ok()?;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("__version__") {
            let value = rest.trim_start_matches([' ', '=', ':']).trim();
            let value = value.trim_start_matches("str").trim();
            return Some(value.trim_matches(['\'', '"']).to_owned());
        }
    }
    None
}

/// Asks a Python interpreter for its torch.
fn probe(python: &Path) -> Result<VenvRecord> {
    let output = Command::new(python)
        .args(["-c", PROBE_SCRIPT])
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last_line = stderr.lines().last().unwrap_or("no output");
        bail!("{} could not import torch: {last_line}", python.display());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json_line = stdout
        .lines()
        .rev()
        .find(|line| line.starts_with('{'))
        .context("the torch probe printed no JSON")?;
    serde_json::from_str(json_line).context("the torch probe printed unreadable JSON")
}

/// Step 4: create the venv, install `torch==2.11.0`, verify, record.
fn install_venv(venv: &Path, inputs: &SetupInputs) -> Result<VenvRecord> {
    let ways = three_ways(inputs);
    let python_version = Command::new("python3").arg("--version").output();
    if !python_version.is_ok_and(|output| output.status.success()) {
        bail!("python3 is not on PATH, so libtorch cannot be installed; {ways}");
    }
    fs::create_dir_all(&inputs.cache_root)
        .with_context(|| format!("cannot create {}; {ways}", inputs.cache_root.display()))?;
    if let Some(free) = free_bytes(&inputs.cache_root)
        && free < INSTALL_DISK_BYTES
    {
        bail!(
            "only {:.1} GB free at {}, installing torch=={TORCH_VERSION} needs about {:.0} GB; {ways}",
            free as f64 / 1e9,
            inputs.cache_root.display(),
            INSTALL_DISK_BYTES as f64 / 1e9
        );
    }
    eprintln!(
        "setup: installing torch=={TORCH_VERSION} (about 4.7 GB with the CUDA runtime) into {}",
        venv.display()
    );
    let python = venv.join("bin").join("python");
    if !python.exists() {
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(venv)
            .status()
            .context("cannot run python3 -m venv")?;
        if !status.success() {
            bail!(
                "`python3 -m venv {}` failed: the venv module is missing (Debian: apt-get install python3-venv); {ways}",
                venv.display()
            );
        }
    }
    let pip_check = Command::new(&python)
        .args(["-m", "pip", "--version"])
        .output();
    if !pip_check.is_ok_and(|output| output.status.success()) {
        bail!(
            "the venv at {} has no pip (Debian: apt-get install python3-pip python3-venv); {ways}",
            venv.display()
        );
    }
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--progress-bar",
            "on",
        ])
        .arg(format!("torch=={TORCH_VERSION}"))
        .status()
        .context("cannot run pip")?;
    if !status.success() {
        bail!(
            "pip could not install torch=={TORCH_VERSION} into {} (is the Python package registry reachable?); {ways}",
            venv.display()
        );
    }
    let record =
        probe(&python).with_context(|| format!("torch in {} does not import", venv.display()))?;
    let release = record.version.split('+').next().unwrap_or_default();
    if release != TORCH_VERSION {
        bail!(
            "pip installed torch {} into {}, expected {TORCH_VERSION}; {ways}",
            record.version,
            venv.display()
        );
    }
    let record_path = venv.join(RECORD_FILE);
    let temporary = venv.join(format!("{RECORD_FILE}.tmp"));
    let mut file = fs::File::create(&temporary)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    file.write_all(serde_json::to_string_pretty(&record)?.as_bytes())?;
    file.sync_all()?;
    fs::rename(&temporary, &record_path)
        .with_context(|| format!("cannot write {}", record_path.display()))?;
    Ok(record)
}

/// Free bytes on the filesystem holding `dir`, from `df`; `None` when `df`
/// is unavailable (the install then goes ahead and pip reports a full disk).
fn free_bytes(dir: &Path) -> Option<u64> {
    let output = Command::new("df").arg("-Pk").arg(dir).output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.lines().nth(1)?;
    let available_kib: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    Some(available_kib * 1024)
}

/// The sentence every setup error ends with.
fn three_ways(inputs: &SetupInputs) -> String {
    format!(
        "provide libtorch {TORCH_VERSION} one of three ways: set LIBTORCH to an unpacked libtorch, \
         set LIBTORCH_USE_PYTORCH=1 with a python whose torch is {TORCH_VERSION}, \
         or let `cargo xtask setup` install torch=={TORCH_VERSION} into {} \
         (needs python3 with venv and pip, the Python package registry, about 7 GB of disk)",
        inputs.venv_dir().display()
    )
}

/// Whether an NVIDIA driver is present, without loading libtorch.
fn nvidia_driver_present() -> bool {
    let candidates = [
        "/proc/driver/nvidia/version",
        "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
        "/usr/lib64/libcuda.so.1",
        "/usr/local/nvidia/lib64/libcuda.so.1",
    ];
    for candidate in candidates {
        if Path::new(candidate).exists() {
            return true;
        }
    }
    false
}

/// `cargo xtask setup`.
pub fn setup_command() -> Result<()> {
    let libtorch = ensure()?;
    let origin = match libtorch.origin {
        Origin::LibtorchVariable => "LIBTORCH",
        Origin::ActivePython => "LIBTORCH_USE_PYTORCH (active python)",
        Origin::CachedVenv => "cached venv",
        Origin::NewVenv => "venv installed now",
    };
    let cuda = match (libtorch.has_cuda_build(), nvidia_driver_present()) {
        (true, true) => "yes (libtorch built with CUDA, NVIDIA driver found)",
        (true, false) => "no (libtorch built with CUDA, but no NVIDIA driver on this machine)",
        (false, _) => "no (CPU-only libtorch)",
    };
    println!("libtorch: {}", libtorch.lib_dir.display());
    println!("version:  {}", libtorch.version);
    println!("from:     {origin}");
    println!("cuda:     {cuda}");
    Ok(())
}

/// Runs a cargo command and fails with its name when it fails.
pub fn run_cargo(mut command: Command, what: &str) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot start cargo for {what}"))?;
    if !status.success() {
        bail!("{what} failed");
    }
    Ok(())
}

/// `cargo xtask test [ARGS]`: the whole workspace's tests, after setup.
pub fn test_command(extra_args: &[String]) -> Result<()> {
    let libtorch = ensure()?;
    let mut command = libtorch.cargo();
    command.args(["test", "--workspace"]).args(extra_args);
    run_cargo(command, "cargo test")
}

/// `cargo xtask ci`: formatting, clippy with warnings denied, then the tests.
pub fn ci_command() -> Result<()> {
    let libtorch = ensure()?;
    let mut format = libtorch.cargo();
    format.args(["fmt", "--all", "--check"]);
    run_cargo(format, "cargo fmt --check")?;
    let mut clippy = libtorch.cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    run_cargo(clippy, "cargo clippy")?;
    test_command(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(libtorch: Option<PathBuf>, use_pytorch: bool, cache_root: &Path) -> SetupInputs {
        SetupInputs {
            libtorch,
            use_pytorch,
            cache_root: cache_root.to_path_buf(),
        }
    }

    /// Lays out a verified venv the way `install_venv` leaves it.
    fn fake_verified_venv(cache_root: &Path) -> VenvRecord {
        let venv = cache_root.join(format!("torch-{TORCH_VERSION}"));
        let torch_dir = venv.join("lib/python3.11/site-packages/torch");
        fs::create_dir_all(torch_dir.join("lib")).unwrap();
        fs::write(torch_dir.join("lib/libtorch.so"), b"").unwrap();
        let record = VenvRecord {
            version: format!("{TORCH_VERSION}+cpu"),
            cxx11_abi: true,
            torch_dir,
        };
        fs::write(
            venv.join(RECORD_FILE),
            serde_json::to_string(&record).unwrap(),
        )
        .unwrap();
        record
    }

    #[test]
    fn libtorch_variable_wins_over_everything() {
        let cache = tempfile::tempdir().unwrap();
        fake_verified_venv(cache.path());
        let user_libtorch = tempfile::tempdir().unwrap();
        fs::create_dir_all(user_libtorch.path().join("lib")).unwrap();
        let inputs = inputs(Some(user_libtorch.path().to_path_buf()), true, cache.path());
        assert_eq!(
            plan(&inputs).unwrap(),
            Plan::LibtorchDir(user_libtorch.path().to_path_buf())
        );
    }

    #[test]
    fn libtorch_variable_without_lib_dir_is_an_actionable_error() {
        let cache = tempfile::tempdir().unwrap();
        let empty = tempfile::tempdir().unwrap();
        let inputs = inputs(Some(empty.path().to_path_buf()), false, cache.path());
        let message = plan(&inputs).unwrap_err().to_string();
        assert!(message.contains("LIBTORCH is set to"), "{message}");
        assert!(message.contains("has no lib/ directory"), "{message}");
        assert!(message.contains("LIBTORCH_USE_PYTORCH=1"), "{message}");
        assert!(message.contains("cargo xtask setup"), "{message}");
    }

    #[test]
    fn active_python_comes_before_the_cache() {
        let cache = tempfile::tempdir().unwrap();
        fake_verified_venv(cache.path());
        let inputs = inputs(None, true, cache.path());
        assert_eq!(plan(&inputs).unwrap(), Plan::ActivePython);
    }

    #[test]
    fn verified_venv_is_reused() {
        let cache = tempfile::tempdir().unwrap();
        let record = fake_verified_venv(cache.path());
        let inputs = inputs(None, false, cache.path());
        assert_eq!(plan(&inputs).unwrap(), Plan::ReuseVenv(record.clone()));
        let libtorch = realise(Plan::ReuseVenv(record.clone()), &inputs).unwrap();
        assert_eq!(libtorch.origin, Origin::CachedVenv);
        assert_eq!(libtorch.lib_dir, record.torch_dir.join("lib"));
        assert!(
            libtorch
                .cargo_env
                .contains(&("LIBTORCH".to_owned(), record.torch_dir.into_os_string()))
        );
        assert!(
            libtorch
                .cargo_env
                .contains(&("LIBTORCH_CXX11_ABI".to_owned(), OsString::from("1")))
        );
    }

    #[test]
    fn empty_cache_or_unverified_venv_plans_an_install() {
        let cache = tempfile::tempdir().unwrap();
        let inputs = inputs(None, false, cache.path());
        let expected = Plan::InstallVenv(cache.path().join(format!("torch-{TORCH_VERSION}")));
        assert_eq!(plan(&inputs).unwrap(), expected);
        // An interrupted install leaves a venv without the record: install again.
        fs::create_dir_all(cache.path().join(format!("torch-{TORCH_VERSION}/bin"))).unwrap();
        assert_eq!(plan(&inputs).unwrap(), expected);
        // A record whose libtorch has gone is not trusted either.
        let record = fake_verified_venv(cache.path());
        fs::remove_file(record.torch_dir.join("lib/libtorch.so")).unwrap();
        assert_eq!(plan(&inputs).unwrap(), expected);
    }

    #[test]
    fn wrong_version_is_rejected_with_the_three_ways() {
        let cache = tempfile::tempdir().unwrap();
        let user_libtorch = tempfile::tempdir().unwrap();
        fs::create_dir_all(user_libtorch.path().join("lib")).unwrap();
        fs::write(user_libtorch.path().join("build-version"), "2.5.1+cpu\n").unwrap();
        let inputs = inputs(
            Some(user_libtorch.path().to_path_buf()),
            false,
            cache.path(),
        );
        let plan = plan(&inputs).unwrap();
        let message = realise(plan, &inputs).unwrap_err().to_string();
        assert!(message.contains("is version 2.5.1+cpu"), "{message}");
        assert!(message.contains("needs 2.11.0"), "{message}");
        assert!(message.contains("set LIBTORCH to"), "{message}");
    }

    #[test]
    fn versions_are_read_from_archives_and_python_packages() {
        let archive = tempfile::tempdir().unwrap();
        fs::write(archive.path().join("build-version"), "2.11.0+cu130\n").unwrap();
        assert_eq!(
            libtorch_dir_version(archive.path()).as_deref(),
            Some("2.11.0+cu130")
        );
        let package = tempfile::tempdir().unwrap();
        fs::write(
            package.path().join("version.py"),
            "from typing import Optional\n__version__ = '2.11.0+cpu'\ndebug = False\n",
        )
        .unwrap();
        assert_eq!(
            libtorch_dir_version(package.path()).as_deref(),
            Some("2.11.0+cpu")
        );
        let neither = tempfile::tempdir().unwrap();
        assert_eq!(libtorch_dir_version(neither.path()), None);
    }
}
