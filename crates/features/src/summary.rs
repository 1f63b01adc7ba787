//! Per-track audio summaries: a fixed-length vector and a fixed-width frame matrix.
//!
//! The summary vector always holds each MFCC coefficient's mean and standard
//! deviation over time; optional blocks add the same two statistics of
//! librosa's delta MFCCs, spectral centroid, spectral roll-off, zero-crossing
//! rate, RMS energy and chroma, each computed as the librosa 0.11 function of
//! the same name with its defaults (chroma with the tuning fixed at 0.0, see
//! [`crate::chroma`]). Standard deviations are population ones (numpy's
//! `ddof=0`).
//!
//! The frame matrix is cut from the centre of the track (or zero-padded
//! around it) so that every track has the same number of frames: equal-length
//! windows keep clip length from leaking into the clustering.

use ndarray::{Array1, Array2, s};
use serde::{Deserialize, Serialize};

use crate::chroma::{N_CHROMA, chroma_stft};
use crate::error::{Error, Result};
use crate::mfcc::Stft;

/// Which statistics go into the summary vector, and the framing of the
/// frame-level descriptors. MFCC mean and standard deviation are always included.
///
/// | key | default | meaning |
/// |---|---|---|
/// | `deltas` | false | mean and std of `librosa.feature.delta(mfcc)` (width 9, interp edges) |
/// | `spectral_centroid` | false | mean and std of `librosa.feature.spectral_centroid` (Hz) |
/// | `spectral_rolloff` | false | mean and std of `librosa.feature.spectral_rolloff` (85 %, Hz) |
/// | `zero_crossing_rate` | false | mean and std of `librosa.feature.zero_crossing_rate` |
/// | `rms` | false | mean and std of `librosa.feature.rms` |
/// | `chroma` | false | per pitch class (0 = C, ..., 11 = B) mean, then std, of `librosa.feature.chroma_stft(tuning=0.0)` |
/// | `sample_rate` | 22050 | > 0, the rate of the samples (Hz) |
/// | `n_fft` | 2048 | 2 ..= 65536, frame length of the descriptors |
/// | `hop_length` | 512 | >= 1 |
///
/// Enabling a block appends its columns after those of the blocks above it in
/// this table, so a config's vector layout never depends on the order of keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
// One on/off switch per optional block is the plainest JSON for a user to write.
#[allow(clippy::struct_excessive_bools)]
pub struct SummaryConfig {
    /// Add mean and std of the first-order delta of each MFCC coefficient.
    pub deltas: bool,
    /// Add mean and std of the spectral centroid.
    pub spectral_centroid: bool,
    /// Add mean and std of the 85 % spectral roll-off frequency.
    pub spectral_rolloff: bool,
    /// Add mean and std of the zero-crossing rate.
    pub zero_crossing_rate: bool,
    /// Add mean and std of the frame RMS energy.
    pub rms: bool,
    /// Add the 12 pitch-class means, then the 12 standard deviations, of the chroma.
    pub chroma: bool,
    /// Sample rate of the signal in Hz (for the centroid and roll-off frequencies).
    pub sample_rate: u32,
    /// Frame length of the frame-level descriptors in samples.
    pub n_fft: usize,
    /// Hop between frames of the frame-level descriptors in samples.
    pub hop_length: usize,
}

impl Default for SummaryConfig {
    fn default() -> Self {
        Self {
            deltas: false,
            spectral_centroid: false,
            spectral_rolloff: false,
            zero_crossing_rate: false,
            rms: false,
            chroma: false,
            sample_rate: 22_050,
            n_fft: 2048,
            hop_length: 512,
        }
    }
}

/// Width of librosa's default delta window.
const DELTA_WIDTH: usize = 9;
/// Fraction of spectral energy below the roll-off frequency.
const ROLLOFF_FRACTION: f64 = 0.85;
/// Magnitudes at or below this count as zero for zero crossings (librosa's threshold).
const ZERO_CROSSING_THRESHOLD: f32 = 1e-10;

impl SummaryConfig {
    /// Checks the framing values against their valid ranges.
    pub fn validate(&self) -> Result<()> {
        if self.sample_rate == 0 {
            return Err(Error::InvalidConfig {
                key: "sample_rate".to_owned(),
                reason: "must be positive".to_owned(),
            });
        }
        Stft::new(self.n_fft, self.hop_length).map(|_| ())
    }

    /// Length of the summary vector for `n_mfcc` coefficients.
    #[must_use]
    pub fn vector_len(&self, n_mfcc: usize) -> usize {
        self.column_names(n_mfcc).len()
    }

    /// Names of the summary vector's entries, in order (`mfcc0_mean`, ..., `rms_std`).
    #[must_use]
    pub fn column_names(&self, n_mfcc: usize) -> Vec<String> {
        let mut names = Vec::new();
        for statistic in ["mean", "std"] {
            for coefficient in 0..n_mfcc {
                names.push(format!("mfcc{coefficient}_{statistic}"));
            }
        }
        if self.deltas {
            for statistic in ["mean", "std"] {
                for coefficient in 0..n_mfcc {
                    names.push(format!("delta{coefficient}_{statistic}"));
                }
            }
        }
        let scalar_descriptors = [
            (self.spectral_centroid, "spectral_centroid"),
            (self.spectral_rolloff, "spectral_rolloff"),
            (self.zero_crossing_rate, "zero_crossing_rate"),
            (self.rms, "rms"),
        ];
        for (enabled, name) in scalar_descriptors {
            if enabled {
                names.push(format!("{name}_mean"));
                names.push(format!("{name}_std"));
            }
        }
        if self.chroma {
            for statistic in ["mean", "std"] {
                for class in 0..N_CHROMA {
                    names.push(format!("chroma{class}_{statistic}"));
                }
            }
        }
        names
    }
}

/// Per-track summary vector: per-coefficient MFCC means, then standard
/// deviations, then the enabled optional blocks in the order of
/// [`SummaryConfig::column_names`].
///
/// `samples` is the mono signal the MFCCs were computed from; it is only read
/// for the spectral, zero-crossing and RMS blocks. A config that fails
/// [`SummaryConfig::validate`], or an empty or non-finite signal, gives zeros
/// in those blocks rather than a panic; validate first.
#[must_use]
pub fn summary_vector(samples: &[f32], mfcc: &Array2<f32>, config: &SummaryConfig) -> Array1<f32> {
    let mut values: Vec<f64> = Vec::with_capacity(config.vector_len(mfcc.nrows()));
    let mut means = Vec::with_capacity(mfcc.nrows());
    let mut deviations = Vec::with_capacity(mfcc.nrows());
    for row in mfcc.rows() {
        let row: Vec<f64> = row.iter().map(|value| f64::from(*value)).collect();
        let (mean, deviation) = mean_and_std(&row);
        means.push(mean);
        deviations.push(deviation);
    }
    values.extend_from_slice(&means);
    values.extend_from_slice(&deviations);

    if config.deltas {
        let mut delta_means = Vec::with_capacity(mfcc.nrows());
        let mut delta_deviations = Vec::with_capacity(mfcc.nrows());
        for row in mfcc.rows() {
            let row: Vec<f64> = row.iter().map(|value| f64::from(*value)).collect();
            let (mean, deviation) = mean_and_std(&delta(&row));
            delta_means.push(mean);
            delta_deviations.push(deviation);
        }
        values.extend_from_slice(&delta_means);
        values.extend_from_slice(&delta_deviations);
    }

    let descriptors = if config.validate().is_ok() {
        frame_descriptors(samples, config).unwrap_or_default()
    } else {
        FrameDescriptors::default()
    };
    let optional_blocks = [
        (config.spectral_centroid, &descriptors.centroid),
        (config.spectral_rolloff, &descriptors.rolloff),
        (config.zero_crossing_rate, &descriptors.zero_crossing_rate),
        (config.rms, &descriptors.rms),
    ];
    for (enabled, series) in optional_blocks {
        if enabled {
            let (mean, deviation) = mean_and_std(series);
            values.push(mean);
            values.push(deviation);
        }
    }
    if config.chroma {
        let chroma = chroma_stft(samples, config.sample_rate, config.n_fft, config.hop_length)
            .unwrap_or_else(|_| Array2::zeros((N_CHROMA, 0)));
        let mut deviations = Vec::with_capacity(N_CHROMA);
        for row in chroma.rows() {
            let row: Vec<f64> = row.iter().map(|value| f64::from(*value)).collect();
            let (mean, deviation) = mean_and_std(&row);
            values.push(mean);
            deviations.push(deviation);
        }
        values.extend_from_slice(&deviations);
    }
    values.iter().map(|value| *value as f32).collect()
}

/// Frame-level descriptor series (one value per frame each).
#[derive(Debug, Default)]
struct FrameDescriptors {
    centroid: Vec<f64>,
    rolloff: Vec<f64>,
    zero_crossing_rate: Vec<f64>,
    rms: Vec<f64>,
}

/// Computes only the descriptor series the config asks for.
fn frame_descriptors(samples: &[f32], config: &SummaryConfig) -> Result<FrameDescriptors> {
    let mut descriptors = FrameDescriptors::default();
    if config.spectral_centroid || config.spectral_rolloff {
        let stft = Stft::new(config.n_fft, config.hop_length)?;
        let bin_width = f64::from(config.sample_rate) / config.n_fft as f64;
        let mut magnitude = vec![0.0_f64; config.n_fft / 2 + 1];
        stft.for_each_power_spectrum(samples, |_, power| {
            let mut total = 0.0;
            let mut weighted = 0.0;
            for (bin, (bin_magnitude, bin_power)) in magnitude.iter_mut().zip(power).enumerate() {
                *bin_magnitude = f64::from(*bin_power).sqrt();
                total += *bin_magnitude;
                weighted += bin as f64 * bin_width * *bin_magnitude;
            }
            // librosa normalises each column to unit sum unless the sum is below
            // the smallest normal float, in which case the column is left as is.
            let centroid = if total >= f64::from(f32::MIN_POSITIVE) {
                weighted / total
            } else {
                weighted
            };
            descriptors.centroid.push(centroid);
            let threshold = ROLLOFF_FRACTION * total;
            let mut cumulative = 0.0;
            let mut rolloff_bin = magnitude.len() - 1;
            for (bin, bin_magnitude) in magnitude.iter().enumerate() {
                cumulative += bin_magnitude;
                if cumulative >= threshold {
                    rolloff_bin = bin;
                    break;
                }
            }
            descriptors.rolloff.push(rolloff_bin as f64 * bin_width);
        })?;
    }
    if samples.is_empty() {
        return Err(Error::InvalidSignal {
            reason: "signal has no samples".to_owned(),
        });
    }
    let half = config.n_fft / 2;
    let frame_count = 1 + samples.len() / config.hop_length;
    if config.zero_crossing_rate {
        // librosa pads with copies of the edge samples for this descriptor.
        let mut is_negative = Vec::with_capacity(samples.len() + 2 * half);
        let first = samples[0];
        let last = samples[samples.len() - 1];
        let negative = |value: f32| {
            let value = if value.abs() <= ZERO_CROSSING_THRESHOLD {
                0.0
            } else {
                value
            };
            value.is_sign_negative()
        };
        is_negative.extend(std::iter::repeat_n(negative(first), half));
        for sample in samples {
            is_negative.push(negative(*sample));
        }
        is_negative.extend(std::iter::repeat_n(negative(last), half));
        for frame_index in 0..frame_count {
            let start = frame_index * config.hop_length;
            let frame = &is_negative[start..(start + config.n_fft).min(is_negative.len())];
            let mut crossings = 0_usize;
            for pair in frame.windows(2) {
                if pair[0] != pair[1] {
                    crossings += 1;
                }
            }
            descriptors
                .zero_crossing_rate
                .push(crossings as f64 / config.n_fft as f64);
        }
    }
    if config.rms {
        for frame_index in 0..frame_count {
            // Frame covers signal positions start - half .. start - half + n_fft, zero outside.
            let start = frame_index * config.hop_length;
            let first = start.saturating_sub(half).min(samples.len());
            let end = (start + config.n_fft)
                .saturating_sub(half)
                .min(samples.len());
            let mut energy = 0.0;
            for sample in &samples[first..end] {
                energy += f64::from(*sample) * f64::from(*sample);
            }
            descriptors.rms.push((energy / config.n_fft as f64).sqrt());
        }
    }
    Ok(descriptors)
}

/// `librosa.feature.delta(row, width=9, order=1, mode="interp")`: a
/// Savitzky-Golay first derivative. Interior frames use the regression slope
/// over +-4 frames; the first and last four frames use the slope of the line
/// fitted to the first or last nine frames. Rows shorter than nine frames (an
/// error in librosa) use the slope of the line fitted to the whole row.
fn delta(row: &[f64]) -> Vec<f64> {
    let frame_count = row.len();
    let line_slope = |window: &[f64]| {
        let centre = (window.len() as f64 - 1.0) / 2.0;
        let mut numerator = 0.0;
        let mut denominator = 0.0;
        for (index, value) in window.iter().enumerate() {
            let offset = index as f64 - centre;
            numerator += offset * value;
            denominator += offset * offset;
        }
        if denominator > 0.0 {
            numerator / denominator
        } else {
            0.0
        }
    };
    if frame_count < DELTA_WIDTH {
        return vec![line_slope(row); frame_count];
    }
    let half = DELTA_WIDTH / 2;
    let mut deltas = vec![0.0; frame_count];
    let head_slope = line_slope(&row[..DELTA_WIDTH]);
    let tail_slope = line_slope(&row[frame_count - DELTA_WIDTH..]);
    for (frame, value) in deltas.iter_mut().enumerate() {
        *value = if frame < half {
            head_slope
        } else if frame + half >= frame_count {
            tail_slope
        } else {
            line_slope(&row[frame - half..=frame + half])
        };
    }
    deltas
}

/// Mean and population standard deviation; (0, 0) for an empty series.
fn mean_and_std(series: &[f64]) -> (f64, f64) {
    if series.is_empty() {
        return (0.0, 0.0);
    }
    let count = series.len() as f64;
    let mut sum = 0.0;
    for value in series {
        sum += value;
    }
    let mean = sum / count;
    let mut squares = 0.0;
    for value in series {
        squares += (value - mean) * (value - mean);
    }
    (mean, (squares / count).sqrt())
}

/// Crop (from the centre) or zero-pad to exactly `frames` columns.
///
/// A longer matrix keeps its middle `frames` columns (the extra column of an
/// odd surplus is dropped at the end); a shorter one is placed in the middle
/// of a zero matrix the same way.
#[must_use]
pub fn centre_frames(mfcc: &Array2<f32>, frames: usize) -> Array2<f32> {
    let available = mfcc.ncols();
    if available >= frames {
        let start = (available - frames) / 2;
        return mfcc.slice(s![.., start..start + frames]).to_owned();
    }
    let mut padded = Array2::<f32>::zeros((mfcc.nrows(), frames));
    let start = (frames - available) / 2;
    padded
        .slice_mut(s![.., start..start + available])
        .assign(mfcc);
    padded
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn centre_frames_crops_the_middle_and_pads_around() {
        let matrix = array![[0.0_f32, 1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0, 9.0]];
        assert_eq!(
            centre_frames(&matrix, 3),
            array![[1.0_f32, 2.0, 3.0], [6.0, 7.0, 8.0]]
        );
        assert_eq!(
            centre_frames(&matrix, 4),
            array![[0.0_f32, 1.0, 2.0, 3.0], [5.0, 6.0, 7.0, 8.0]]
        );
        assert_eq!(centre_frames(&matrix, 5), matrix);
        assert_eq!(
            centre_frames(&matrix, 8),
            array![
                [0.0_f32, 0.0, 1.0, 2.0, 3.0, 4.0, 0.0, 0.0],
                [0.0, 5.0, 6.0, 7.0, 8.0, 9.0, 0.0, 0.0]
            ]
        );
        assert_eq!(centre_frames(&matrix, 0).dim(), (2, 0));
    }

    #[test]
    fn delta_of_a_line_is_its_slope_everywhere() {
        let line: Vec<f64> = (0..20).map(|frame| 3.0 * f64::from(frame) - 1.0).collect();
        for value in delta(&line) {
            assert!((value - 3.0).abs() < 1e-12);
        }
        let short: Vec<f64> = (0..4).map(|frame| -2.0 * f64::from(frame)).collect();
        for value in delta(&short) {
            assert!((value + 2.0).abs() < 1e-12);
        }
    }

    #[test]
    fn default_vector_is_means_then_population_stds() {
        let matrix = array![[1.0_f32, 3.0], [2.0, 2.0]];
        let vector = summary_vector(&[0.0; 10], &matrix, &SummaryConfig::default());
        assert_eq!(vector, array![2.0_f32, 2.0, 1.0, 0.0]);
        assert_eq!(
            SummaryConfig::default().column_names(2),
            ["mfcc0_mean", "mfcc1_mean", "mfcc0_std", "mfcc1_std"]
        );
    }

    #[test]
    fn unknown_summary_keys_are_rejected() {
        let parsed: std::result::Result<SummaryConfig, _> =
            serde_json::from_str(r#"{"chromagram": true}"#);
        assert!(parsed.is_err());
        let parsed: SummaryConfig =
            serde_json::from_str(r#"{"chroma": true}"#).expect("chroma is a summary option");
        assert!(parsed.chroma);
        assert_eq!(parsed.vector_len(20), 2 * 20 + 2 * 12);
        assert_eq!(parsed.column_names(20)[40], "chroma0_mean");
        assert_eq!(parsed.column_names(20)[63], "chroma11_std");
    }
}
