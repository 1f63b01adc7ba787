//! Finding or installing libsoxr, the resampler `librosa.load` uses.
//!
//! songvae opens libsoxr (LGPL-2.1) at run time and never links it
//! (`crates/features/src/soxr.rs`), so only commands that resample need it,
//! and only then. Every xtask command first makes sure it can be opened:
//!
//! 1. The dynamic loader already finds `libsoxr.so.0` (a system package, or
//!    `LD_LIBRARY_PATH`): nothing to do.
//! 2. Otherwise, on Debian and Ubuntu, `apt-get download libsoxr0` fetches the
//!    distribution's package (no root needed) and `dpkg-deb -x` unpacks it
//!    into `${XDG_CACHE_HOME:-$HOME/.cache}/songvae/libsoxr0/`; a copy
//!    unpacked there before is reused.
//! 3. xtask then restarts itself once with that library directory at the front
//!    of `LD_LIBRARY_PATH`, so it and every process it starts (cargo test,
//!    the sweep and its trainers) find the library.
//!
//! Where none of this works (no apt, no network), xtask says so in one line and
//! goes on: input at 22,050 Hz never needs libsoxr, and a file that does fails
//! with an error naming it and the way to install the library.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use songvae_features::soxr::Libsoxr;

/// Set in the restarted xtask so that it never restarts twice.
const RESTART_VARIABLE: &str = "SONGVAE_XTASK_LIBSOXR_RESTARTED";

/// The Debian package holding `libsoxr.so.0`.
const PACKAGE: &str = "libsoxr0";

/// Where an unpacked package keeps its shared libraries.
const PACKAGE_LIBRARY_DIR: &str = "usr/lib/x86_64-linux-gnu";

/// Makes libsoxr loadable for this xtask and its children; see the module
/// overview. Returns only when nothing needs restarting, or when libsoxr
/// cannot be had (after printing why).
pub fn ensure(cache_root: &Path) {
    if Libsoxr::open().is_ok() {
        return;
    }
    if std::env::var_os(RESTART_VARIABLE).is_some() {
        eprintln!(
            "warning: libsoxr installed in {} still cannot be loaded; audio at other sample \
             rates than 22050 Hz cannot be resampled",
            cache_root.join(PACKAGE).display()
        );
        return;
    }
    match install(cache_root) {
        Ok(library_dir) => restart_with(&library_dir),
        Err(error) => eprintln!(
            "warning: libsoxr is not installed and could not be installed ({error:#}); audio at \
             other sample rates than 22050 Hz cannot be resampled until it is (Debian and \
             Ubuntu: apt install libsoxr0)"
        ),
    }
}

/// Step 2: the unpacked package's library directory, unpacking it first if needed.
fn install(cache_root: &Path) -> Result<PathBuf> {
    let package_root = cache_root.join(PACKAGE);
    let library_dir = package_root.join(PACKAGE_LIBRARY_DIR);
    if library_dir.join("libsoxr.so.0").exists() {
        return Ok(library_dir);
    }
    if std::env::consts::ARCH != "x86_64" || std::env::consts::OS != "linux" {
        bail!("the automatic install covers x86-64 Linux only");
    }
    let download_dir = cache_root.join(format!("{PACKAGE}.download"));
    if download_dir.exists() {
        std::fs::remove_dir_all(&download_dir)
            .with_context(|| format!("cannot clear {}", download_dir.display()))?;
    }
    std::fs::create_dir_all(&download_dir)
        .with_context(|| format!("cannot create {}", download_dir.display()))?;
    let download = Command::new("apt-get")
        .args(["download", PACKAGE])
        .current_dir(&download_dir)
        .output()
        .context("cannot run apt-get")?;
    if !download.status.success() {
        let stderr = String::from_utf8_lossy(&download.stderr);
        bail!(
            "apt-get download {PACKAGE} failed: {}",
            stderr.lines().last().unwrap_or("no output")
        );
    }
    let mut package_file = None;
    for entry in std::fs::read_dir(&download_dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|extension| extension == "deb") {
            package_file = Some(path);
        }
    }
    let package_file = package_file.context("apt-get download left no .deb file")?;
    // Unpack beside the final directory, then rename: an interrupted unpack
    // never leaves a half-filled cache that a later run would trust.
    let unpacked = cache_root.join(format!("{PACKAGE}.unpacked"));
    if unpacked.exists() {
        std::fs::remove_dir_all(&unpacked)
            .with_context(|| format!("cannot clear {}", unpacked.display()))?;
    }
    let status = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&package_file)
        .arg(&unpacked)
        .status()
        .context("cannot run dpkg-deb")?;
    if !status.success()
        || !unpacked
            .join(PACKAGE_LIBRARY_DIR)
            .join("libsoxr.so.0")
            .exists()
    {
        bail!(
            "dpkg-deb -x {} gave no libsoxr.so.0",
            package_file.display()
        );
    }
    if package_root.exists() {
        std::fs::remove_dir_all(&package_root)
            .with_context(|| format!("cannot clear {}", package_root.display()))?;
    }
    std::fs::rename(&unpacked, &package_root)
        .with_context(|| format!("cannot move the package to {}", package_root.display()))?;
    std::fs::remove_dir_all(&download_dir).ok();
    eprintln!(
        "libsoxr: installed {PACKAGE} into {}",
        package_root.display()
    );
    Ok(library_dir)
}

/// Step 3: replaces this process by itself with `library_dir` first on the
/// loader's path. Returns only when the restart could not happen.
fn restart_with(library_dir: &Path) {
    let mut search_path = OsString::from(library_dir);
    if let Some(existing) = std::env::var_os("LD_LIBRARY_PATH").filter(|value| !value.is_empty()) {
        search_path.push(":");
        search_path.push(existing);
    }
    let Ok(binary) = std::env::current_exe() else {
        eprintln!("warning: cannot find the xtask binary to restart it with libsoxr");
        return;
    };
    let mut command = Command::new(binary);
    command.args(std::env::args_os().skip(1));
    command.env("LD_LIBRARY_PATH", search_path);
    command.env(RESTART_VARIABLE, "1");
    // `exec` returns only when it failed.
    let error = command.exec();
    eprintln!("warning: cannot restart xtask with libsoxr on LD_LIBRARY_PATH: {error}");
}
