//! Sample-rate conversion with libsoxr at `soxr_hq`, as `librosa.load` does.
//!
//! `librosa.load(path)` averages the channels to mono, then calls
//! `soxr.resample(y, orig_sr, 22050, quality="soxr_hq")` and trims or
//! zero-pads the result to `ceil(len * 22050 / orig_sr)` samples. This module
//! does the same with the same library, so resampled input gives librosa's
//! samples (bitwise on the 44.1 kHz and 48 kHz fixtures, see
//! `fixtures/audio/make_resample_reference.py`).
//!
//! Licence: libsoxr is LGPL-2.1. It is not compiled into songvae: the shared
//! library (`libsoxr.so.0`, Debian's and Ubuntu's package `libsoxr0`) is
//! opened at run time with `libloading`, only when a file actually needs
//! resampling, so every songvae binary stays MIT OR Apache-2.0 and the
//! library can be replaced by any compatible build. `cargo xtask` installs it
//! into the user cache when the system has none (`xtask/src/libsoxr.rs`).
//!
//! The call sequence is the one of `python-soxr` 1.x (`csoxr_divide_proc`):
//! `soxr_create` with `soxr_quality_spec(SOXR_HQ, 0)` and float32 in and out,
//! `soxr_process` over blocks of `max(1000, 48000 * in / out)` input frames,
//! one flushing `soxr_process` with no input, `soxr_delete`.

// The one module of the workspace with `unsafe`: calling a C library opened at
// run time cannot be done without it. Each block says why it is sound.
#![allow(unsafe_code)]

use std::ffi::{CStr, c_char, c_int, c_uint, c_ulong, c_void};

use crate::error::{Error, Result};

/// File names tried, in order, when the library is opened.
#[cfg(target_os = "macos")]
const LIBRARY_NAMES: &[&str] = &["libsoxr.0.dylib", "libsoxr.dylib"];
#[cfg(target_os = "windows")]
const LIBRARY_NAMES: &[&str] = &["soxr.dll", "libsoxr.dll"];
#[cfg(not(any(target_os = "macos", target_os = "windows")))]
const LIBRARY_NAMES: &[&str] = &["libsoxr.so.0", "libsoxr.so"];

/// `SOXR_HQ` in `soxr.h`: 20-bit precision, linear phase, pass band to 0.913
/// of the lower Nyquist frequency (librosa's `res_type="soxr_hq"`).
const SOXR_HQ: c_ulong = 4;
/// `SOXR_FLOAT32_I`: interleaved `f32` samples.
const SOXR_FLOAT32_I: c_int = 0;

/// `struct soxr_io_spec` of `soxr.h`.
#[repr(C)]
struct IoSpec {
    itype: c_int,
    otype: c_int,
    scale: f64,
    e: *mut c_void,
    flags: c_ulong,
}

/// `struct soxr_quality_spec` of `soxr.h`.
#[repr(C)]
struct QualitySpec {
    precision: f64,
    phase_response: f64,
    passband_end: f64,
    stopband_begin: f64,
    e: *mut c_void,
    flags: c_ulong,
}

type SoxrError = *const c_char;
type SoxrHandle = *mut c_void;
type VersionFn = unsafe extern "C" fn() -> *const c_char;
type IoSpecFn = unsafe extern "C" fn(c_int, c_int) -> IoSpec;
type QualitySpecFn = unsafe extern "C" fn(c_ulong, c_ulong) -> QualitySpec;
type CreateFn = unsafe extern "C" fn(
    f64,
    f64,
    c_uint,
    *mut SoxrError,
    *const IoSpec,
    *const QualitySpec,
    *const c_void,
) -> SoxrHandle;
type ProcessFn = unsafe extern "C" fn(
    SoxrHandle,
    *const c_void,
    usize,
    *mut usize,
    *mut c_void,
    usize,
    *mut usize,
) -> SoxrError;
type DeleteFn = unsafe extern "C" fn(SoxrHandle);

/// An opened libsoxr.
pub struct Libsoxr {
    library: libloading::Library,
    /// The file name it was opened by.
    pub file_name: &'static str,
}

impl Libsoxr {
    /// Opens the first of the platform's libsoxr file names that the dynamic
    /// loader finds (its usual search path, including `LD_LIBRARY_PATH`).
    pub fn open() -> Result<Self> {
        let mut first_failure = String::new();
        for file_name in LIBRARY_NAMES {
            // SAFETY: opening libsoxr runs no initialisation code of its own
            // beyond the C runtime's; its symbols are only called through the
            // typed signatures of soxr.h below.
            match unsafe { libloading::Library::new(*file_name) } {
                Ok(library) => return Ok(Self { library, file_name }),
                Err(error) => {
                    // libloading's message is "dlopen failed"; the loader's
                    // own reason is its source.
                    if first_failure.is_empty() {
                        first_failure = match std::error::Error::source(&error) {
                            Some(source) => source.to_string(),
                            None => error.to_string(),
                        };
                    }
                }
            }
        }
        Err(Error::Resampler {
            reason: format!(
                "cannot load libsoxr: {first_failure}; install it (Debian and Ubuntu: \
                 apt install libsoxr0; macOS: brew install libsoxr) or run through cargo xtask, \
                 which installs it"
            ),
        })
    }

    fn symbol<T: Copy>(&self, name: &str) -> Result<T> {
        // SAFETY: every `T` used here is the exact C signature of `name` in soxr.h.
        let symbol = unsafe { self.library.get::<T>(name.as_bytes()) };
        match symbol {
            Ok(symbol) => Ok(*symbol),
            Err(error) => Err(Error::Resampler {
                reason: format!("{} has no {name}: {error}", self.file_name),
            }),
        }
    }

    /// The library's own version string, e.g. `libsoxr-0.1.3`.
    pub fn version(&self) -> Result<String> {
        let version: VersionFn = self.symbol("soxr_version")?;
        // SAFETY: soxr_version returns a static NUL-terminated string.
        let text = unsafe { CStr::from_ptr(version()) };
        Ok(text.to_string_lossy().into_owned())
    }

    /// Resamples mono `samples` from `from_rate` to `to_rate` Hz at `soxr_hq`,
    /// returning `ceil(len * to_rate / from_rate)` samples (librosa's
    /// `fix_length` after `soxr.resample`).
    pub fn resample_hq(&self, samples: &[f32], from_rate: u32, to_rate: u32) -> Result<Vec<f32>> {
        let io_spec_fn: IoSpecFn = self.symbol("soxr_io_spec")?;
        let quality_spec_fn: QualitySpecFn = self.symbol("soxr_quality_spec")?;
        let create: CreateFn = self.symbol("soxr_create")?;
        let process: ProcessFn = self.symbol("soxr_process")?;
        let delete: DeleteFn = self.symbol("soxr_delete")?;

        let input_rate = f64::from(from_rate);
        let output_rate = f64::from(to_rate);
        // SAFETY: both return plain structs by value.
        let io_spec = unsafe { io_spec_fn(SOXR_FLOAT32_I, SOXR_FLOAT32_I) };
        let quality_spec = unsafe { quality_spec_fn(SOXR_HQ, 0) };
        let mut error: SoxrError = std::ptr::null();
        // SAFETY: the specs outlive the call; a null runtime spec asks for defaults.
        let handle = unsafe {
            create(
                input_rate,
                output_rate,
                1,
                &raw mut error,
                &raw const io_spec,
                &raw const quality_spec,
                std::ptr::null(),
            )
        };
        if handle.is_null() || !error.is_null() {
            let reason = soxr_message(error);
            if !handle.is_null() {
                // SAFETY: handle came from soxr_create.
                unsafe { delete(handle) };
            }
            return Err(self.failure(from_rate, to_rate, &reason));
        }

        // python-soxr's buffer: len * out / in + 1 frames, truncated.
        let capacity = (samples.len() as f64 * output_rate / input_rate) as usize + 1;
        let block_frames = (48_000.0 * input_rate / output_rate).max(1000.0) as usize;
        let mut output = vec![0.0_f32; capacity];
        let mut written = 0_usize;
        let mut failure = None;
        // The input in blocks, then `None`: the flush.
        let mut blocks: Vec<Option<&[f32]>> = samples.chunks(block_frames).map(Some).collect();
        blocks.push(None);
        for block in blocks {
            let (input, length) = match block {
                Some(block) => (block.as_ptr().cast::<c_void>(), block.len()),
                None => (std::ptr::null(), 0),
            };
            let mut produced = 0_usize;
            // SAFETY: the block (or null, which flushes) and the rest of
            // `output` are valid for `length` and `capacity - written`
            // floats; a null idone makes soxr take the whole block, as
            // python-soxr does.
            let status = unsafe {
                process(
                    handle,
                    input,
                    length,
                    std::ptr::null_mut(),
                    output[written..].as_mut_ptr().cast(),
                    capacity - written,
                    &raw mut produced,
                )
            };
            written += produced;
            if !status.is_null() {
                failure = Some(soxr_message(status));
                break;
            }
        }
        // SAFETY: handle came from soxr_create and is not used afterwards.
        unsafe { delete(handle) };
        if let Some(reason) = failure {
            return Err(self.failure(from_rate, to_rate, &reason));
        }

        output.truncate(written);
        // librosa computes the length in floating point, `ceil(len * (to / from))`.
        let target_length = (samples.len() as f64 * (output_rate / input_rate)).ceil() as usize;
        output.resize(target_length, 0.0);
        Ok(output)
    }

    fn failure(&self, from_rate: u32, to_rate: u32, reason: &str) -> Error {
        Error::Resampler {
            reason: format!(
                "{} failed to resample {from_rate} Hz to {to_rate} Hz: {reason}",
                self.file_name
            ),
        }
    }
}

/// The text of a libsoxr error (a static C string), or a placeholder.
fn soxr_message(error: SoxrError) -> String {
    if error.is_null() {
        return "no error message".to_owned();
    }
    // SAFETY: libsoxr's errors are static NUL-terminated strings.
    unsafe { CStr::from_ptr(error) }
        .to_string_lossy()
        .into_owned()
}
