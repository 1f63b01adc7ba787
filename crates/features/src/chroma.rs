//! Chroma features as `librosa.feature.chroma_stft(y=y, sr=sr, tuning=0.0)`
//! in librosa 0.11.
//!
//! The pipeline: the centred, Hann-windowed power spectrogram of [`Stft`]
//! (`|X|^2`, `f32` as librosa's), projected onto librosa's
//! `filters.chroma` filterbank (12 pitch classes, Gaussian bumps centred in
//! octave 5 with a 2-octave spread, each FFT bin's column L2-normalised,
//! rows rolled so that class 0 is C), then each frame divided by its largest
//! value (`norm=inf`; frames whose largest value is below the smallest normal
//! `f32` are left as they are).
//!
//! Tuning is fixed at 0.0 (A = 440 Hz). librosa's default (`tuning=None`)
//! estimates it per signal with `estimate_tuning`: the argmax of a histogram
//! of 0.01-bin width over interpolated spectral peaks above their median
//! magnitude. That discrete choice can move by a whole bin on a float32
//! rounding difference, so a fixed tuning is what makes the feature exactly
//! reproducible; the reference values are computed with `tuning=0.0` too
//! (`fixtures/audio/make_chroma_reference.py`, which also records what
//! librosa would have estimated for each fixture).
//!
//! The chroma filterbank has no zeros to skip (every weight is a Gaussian
//! value), so it is applied densely, with the 12 classes as vector lanes.

use ndarray::Array2;

use crate::error::{Error, Result};
use crate::mfcc::Stft;

/// Number of pitch classes (librosa's `n_chroma` default).
pub const N_CHROMA: usize = 12;

/// librosa's `filters.chroma` defaults: centre octave and octave spread of
/// the Gaussian weighting over frequency.
const CENTRE_OCTAVE: f64 = 5.0;
const OCTAVE_WIDTH: f64 = 2.0;

/// The chroma filterbank of `librosa.filters.chroma(sr, n_fft, tuning=0.0)`,
/// stored bin-major: `weights[bin * N_CHROMA + class]`, each weight rounded
/// to `f32` as librosa returns it.
#[derive(Clone, Debug, PartialEq)]
pub struct ChromaFilterbank {
    weights: Vec<f64>,
}

impl ChromaFilterbank {
    /// Builds the filterbank for `n_fft`-point frames of a signal at
    /// `sample_rate` Hz (`sample_rate` > 0, `n_fft` in 2..=65536).
    pub fn new(sample_rate: u32, n_fft: usize) -> Result<Self> {
        if sample_rate == 0 {
            return Err(Error::InvalidConfig {
                key: "sample_rate".to_owned(),
                reason: "must be positive".to_owned(),
            });
        }
        if !(2..=65_536).contains(&n_fft) {
            return Err(Error::InvalidConfig {
                key: "n_fft".to_owned(),
                reason: format!("must be in 2..=65536, got {n_fft}"),
            });
        }
        let classes = N_CHROMA as f64;
        let bin_width = f64::from(sample_rate) / n_fft as f64;
        // Position of every FFT bin in chroma bins: 12 * log2(f / (440 / 16)).
        let mut positions = Vec::with_capacity(n_fft);
        for bin in 1..n_fft {
            positions.push(classes * (bin as f64 * bin_width / (440.0 / 16.0)).log2());
        }
        // The 0 Hz bin gets a made-up position 1.5 octaves below bin 1.
        positions.insert(0, positions[0] - 1.5 * classes);
        let half_classes = (classes / 2.0).round();
        let bin_count = n_fft / 2 + 1;
        let mut weights = vec![0.0_f64; bin_count * N_CHROMA];
        for bin in 0..bin_count {
            let width = if bin + 1 < n_fft {
                (positions[bin + 1] - positions[bin]).max(1.0)
            } else {
                1.0
            };
            let mut column = [0.0_f64; N_CHROMA];
            let mut squares = 0.0;
            for (class, weight) in column.iter_mut().enumerate() {
                // Distance to the class, wrapped into -6 .. 6 (always positive before the remainder).
                let distance = (positions[bin] - class as f64 + half_classes + 10.0 * classes)
                    % classes
                    - half_classes;
                let scaled = 2.0 * distance / width;
                *weight = (-0.5 * scaled * scaled).exp();
                squares += *weight * *weight;
            }
            let norm = squares.sqrt();
            let octave = (positions[bin] / classes - CENTRE_OCTAVE) / OCTAVE_WIDTH;
            let octave_weight = (-0.5 * octave * octave).exp();
            for (class, weight) in column.iter().enumerate() {
                // np.roll(wts, -3): row `class` of the result is row class + 3 (so class 0 is C).
                let rolled = (class + N_CHROMA - 3) % N_CHROMA;
                let normalised = if norm < f64::MIN_POSITIVE {
                    *weight
                } else {
                    *weight / norm
                };
                weights[bin * N_CHROMA + rolled] = f64::from((normalised * octave_weight) as f32);
            }
        }
        Ok(Self { weights })
    }

    /// Weight of pitch class `class` (0 = C) at FFT bin `bin`, or `None` outside the bank.
    #[must_use]
    pub fn weight(&self, class: usize, bin: usize) -> Option<f64> {
        if class >= N_CHROMA {
            return None;
        }
        self.weights.get(bin * N_CHROMA + class).copied()
    }

    /// Number of FFT bins the bank covers (`n_fft / 2 + 1`).
    #[must_use]
    pub fn bin_count(&self) -> usize {
        self.weights.len() / N_CHROMA
    }
}

/// Chroma matrix (12, frames) as `librosa.feature.chroma_stft(y=samples,
/// sr=sample_rate, n_fft, hop_length, tuning=0.0)`: power spectrogram,
/// chroma filterbank, each frame scaled to a largest value of 1.
///
/// `sample_rate` > 0, `n_fft` in 2..=65536 and `hop_length` >= 1; empty or
/// non-finite signals are errors.
pub fn chroma_stft(
    samples: &[f32],
    sample_rate: u32,
    n_fft: usize,
    hop_length: usize,
) -> Result<Array2<f32>> {
    let stft = Stft::new(n_fft, hop_length)?;
    let filterbank = ChromaFilterbank::new(sample_rate, n_fft)?;
    let frame_count = stft.frame_count(samples.len());
    let mut chroma = vec![0.0_f32; N_CHROMA * frame_count];
    stft.for_each_power_spectrum(samples, |frame_index, power| {
        let mut sums = [0.0_f64; N_CHROMA];
        for (bin_power, bin_weights) in power.iter().zip(filterbank.weights.chunks_exact(N_CHROMA))
        {
            let bin_power = f64::from(*bin_power);
            for (sum, weight) in sums.iter_mut().zip(bin_weights) {
                *sum += weight * bin_power;
            }
        }
        // librosa's raw chroma is float32; normalise that, as util.normalize(norm=inf).
        let mut raw = [0.0_f32; N_CHROMA];
        let mut largest = 0.0_f64;
        for (value, sum) in raw.iter_mut().zip(&sums) {
            *value = *sum as f32;
            largest = largest.max(f64::from(value.abs()));
        }
        let length = if largest < f64::from(f32::MIN_POSITIVE) {
            1.0
        } else {
            largest
        };
        for (class, value) in raw.iter().enumerate() {
            chroma[class * frame_count + frame_index] = (f64::from(*value) / length) as f32;
        }
    })?;
    Array2::from_shape_vec((N_CHROMA, frame_count), chroma).map_err(|error| Error::InvalidSignal {
        reason: format!("chroma shape: {error}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pure_tone_peaks_at_its_pitch_class() {
        // 440 Hz is A: class 9 when class 0 is C.
        let samples: Vec<f32> = (0..22_050)
            .map(|index| {
                (2.0 * std::f64::consts::PI * 440.0 * f64::from(index) / 22_050.0).sin() as f32
            })
            .collect();
        let chroma = chroma_stft(&samples, 22_050, 2048, 512).expect("chroma");
        assert_eq!(chroma.dim(), (12, 44));
        for frame in 2..40 {
            assert!(
                (chroma[[9, frame]] - 1.0).abs() < f32::EPSILON,
                "frame {frame}"
            );
            for class in [0, 3, 6] {
                assert!(chroma[[class, frame]] < 0.5);
            }
        }
    }

    #[test]
    fn silence_stays_zero_and_bad_settings_are_errors() {
        let chroma = chroma_stft(&[0.0; 4096], 22_050, 2048, 512).expect("silence");
        assert!(chroma.iter().all(|value| *value == 0.0));
        assert!(matches!(
            ChromaFilterbank::new(0, 2048),
            Err(Error::InvalidConfig { key, .. }) if key == "sample_rate"
        ));
        assert!(matches!(
            chroma_stft(&[0.0; 16], 22_050, 1, 512),
            Err(Error::InvalidConfig { key, .. }) if key == "n_fft"
        ));
        assert!(matches!(
            chroma_stft(&[], 22_050, 2048, 512),
            Err(Error::InvalidSignal { .. })
        ));
    }
}
