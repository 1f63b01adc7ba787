//! Audio decoding and MFCC parity against librosa 0.11 reference values.
//!
//! The signals and references live in `fixtures/audio/` and are made by
//! `fixtures/audio/make_reference.py`; these tests never run Python.

use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2};
use songvae_features::audio::{TARGET_SAMPLE_RATE, decode_mono, load_mono};
use songvae_features::chroma::chroma_stft;
use songvae_features::error::Error;
use songvae_features::mfcc::{MfccConfig, mfcc};
use songvae_features::summary::{SummaryConfig, summary_vector};

/// The issues' parity bounds, for input at any sample rate.
const MAX_RELATIVE_FROBENIUS: f64 = 1e-5;
const MAX_ABSOLUTE: f64 = 0.01;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/audio")
        .join(name)
}

fn reference_mfcc(name: &str) -> Array2<f32> {
    ndarray_npy::read_npy(fixture(&format!("{name}.mfcc.npy"))).expect("reference npy")
}

/// Relative Frobenius error and maximum absolute error of `ours` against `reference`.
fn parity(ours: &Array2<f32>, reference: &Array2<f32>) -> (f64, f64) {
    assert_eq!(ours.dim(), reference.dim(), "shapes differ");
    let mut difference_squares = 0.0;
    let mut reference_squares = 0.0;
    let mut max_absolute = 0.0_f64;
    for (a, b) in ours.iter().zip(reference.iter()) {
        let difference = f64::from(*a) - f64::from(*b);
        difference_squares += difference * difference;
        reference_squares += f64::from(*b) * f64::from(*b);
        max_absolute = max_absolute.max(difference.abs());
    }
    (
        (difference_squares / reference_squares).sqrt(),
        max_absolute,
    )
}

#[test]
fn mfcc_of_22050_hz_wavs_matches_librosa() {
    for name in ["chord_22050.wav", "clip_22050.wav", "stereo_22050.wav"] {
        let samples = load_mono(&fixture(name)).expect("decode fixture");
        let ours = mfcc(&samples, &MfccConfig::default()).expect("mfcc");
        let (relative, absolute) = parity(&ours, &reference_mfcc(name));
        println!("{name}: relative Frobenius {relative:.3e}, max abs {absolute:.3e}");
        assert!(relative <= MAX_RELATIVE_FROBENIUS, "{name}: {relative}");
        assert!(absolute <= MAX_ABSOLUTE, "{name}: {absolute}");
    }
}

#[test]
fn stereo_is_averaged_to_mono() {
    let decoded = decode_mono(&fixture("stereo_22050.wav")).expect("decode stereo");
    assert_eq!(decoded.channels, 2);
    assert_eq!(decoded.sample_rate, 22_050);
    assert_eq!(decoded.samples.len(), 33_075);
}

#[test]
fn resampled_44100_and_48000_hz_stereo_matches_librosa_load() {
    // References: fixtures/audio/make_resample_reference.py (librosa 0.11,
    // res_type soxr_hq through python-soxr 1.1).
    for (name, sample_rate) in [("stereo_44100.wav", 44_100), ("stereo_48000.wav", 48_000)] {
        let decoded = decode_mono(&fixture(name)).expect("decode");
        assert_eq!(
            (decoded.channels, decoded.sample_rate),
            (2, sample_rate),
            "{name}"
        );
        let samples = load_mono(&fixture(name)).expect("load and resample");
        let reference: Array1<f32> =
            ndarray_npy::read_npy(fixture(&format!("{name}.resampled.npy"))).expect("reference");
        assert_eq!(samples.len(), reference.len(), "{name}: resampled length");
        let ours = Array2::from_shape_vec((1, samples.len()), samples.clone()).expect("shape");
        let theirs = reference.insert_axis(ndarray::Axis(0));
        let (relative, absolute) = parity(&ours, &theirs);
        println!("{name}: samples relative Frobenius {relative:.3e}, max abs {absolute:.3e}");
        assert!(
            relative <= MAX_RELATIVE_FROBENIUS,
            "{name} samples: {relative}"
        );

        let coefficients = mfcc(&samples, &MfccConfig::default()).expect("mfcc");
        let (relative, absolute) = parity(&coefficients, &reference_mfcc(name));
        println!("{name}: MFCC relative Frobenius {relative:.3e}, max abs {absolute:.3e}");
        assert!(
            relative <= MAX_RELATIVE_FROBENIUS,
            "{name} MFCC: {relative}"
        );
        assert!(absolute <= MAX_ABSOLUTE, "{name} MFCC: {absolute}");
    }
}

#[test]
fn resampled_44100_hz_mono_matches_librosa_load() {
    let samples = load_mono(&fixture("chord_44100.wav")).expect("load 44.1 kHz");
    let decoded = decode_mono(&fixture("chord_44100.wav")).expect("decode 44.1 kHz");
    assert_eq!(samples.len(), decoded.samples.len().div_ceil(2));
    assert_eq!(TARGET_SAMPLE_RATE, 22_050);
    let ours = mfcc(&samples, &MfccConfig::default()).expect("mfcc");
    let (relative, absolute) = parity(&ours, &reference_mfcc("chord_44100.wav"));
    println!("chord_44100.wav: relative Frobenius {relative:.3e}, max abs {absolute:.3e}");
    assert!(relative <= MAX_RELATIVE_FROBENIUS, "{relative}");
    assert!(absolute <= MAX_ABSOLUTE, "{absolute}");
}

#[test]
fn lossless_formats_equal_the_wav_and_lossy_ones_match_librosa_decoding_them() {
    let wav = load_mono(&fixture("clip_22050.wav")).expect("wav");
    let flac = load_mono(&fixture("clip_22050.flac")).expect("flac");
    assert_eq!(flac, wav, "FLAC must decode to the WAV's samples");
    for name in ["clip_22050.ogg", "clip_22050.mp3"] {
        let lossy = load_mono(&fixture(name)).expect("lossy decode");
        let ours = mfcc(&lossy, &MfccConfig::default()).expect("mfcc");
        let (relative, absolute) = parity(&ours, &reference_mfcc(name));
        println!("{name}: relative Frobenius {relative:.3e}, max abs {absolute:.3e}");
        // symphonia and libsndfile decode Vorbis and MP3 (gapless) to the same
        // samples within float rounding, so the WAV bounds hold here too.
        assert!(relative <= MAX_RELATIVE_FROBENIUS, "{name}: {relative}");
        assert!(absolute <= MAX_ABSOLUTE, "{name}: {absolute}");
    }
}

#[test]
fn bad_files_are_errors_naming_the_path() {
    let directory = tempfile::tempdir().expect("temp dir");
    let wav_bytes = std::fs::read(fixture("clip_22050.wav")).expect("read wav");
    let flac_bytes = std::fs::read(fixture("clip_22050.flac")).expect("read flac");

    let empty = directory.path().join("empty.wav");
    std::fs::write(&empty, b"").expect("write");
    let truncated = directory.path().join("truncated.wav");
    std::fs::write(&truncated, &wav_bytes[..wav_bytes.len() / 2]).expect("write");
    let header_only = directory.path().join("header_only.wav");
    std::fs::write(&header_only, &wav_bytes[..44]).expect("write");
    let garbage = directory.path().join("garbage.wav");
    let noise: Vec<u8> = (0..4096_u32)
        .map(|index| (index * 7919 % 251) as u8)
        .collect();
    std::fs::write(&garbage, &noise).expect("write");
    let text = directory.path().join("lyrics.txt");
    std::fs::write(&text, "not audio at all\n").expect("write");
    let corrupt_flac = directory.path().join("corrupt.flac");
    let mut damaged = flac_bytes.clone();
    for byte in damaged.iter_mut().skip(8192).take(4096) {
        *byte ^= 0x5a;
    }
    std::fs::write(&corrupt_flac, &damaged).expect("write");
    let truncated_flac = directory.path().join("truncated.flac");
    std::fs::write(&truncated_flac, &flac_bytes[..flac_bytes.len() / 3]).expect("write");
    let missing = directory.path().join("missing.wav");

    let cases: [(&Path, &str); 8] = [
        (&empty, "empty"),
        (&truncated, "decode"),
        (&header_only, "empty"),
        (&garbage, "unsupported"),
        (&text, "unsupported"),
        (&corrupt_flac, "decode"),
        (&truncated_flac, "decode"),
        (&missing, "io"),
    ];
    for (path, expected_kind) in cases {
        let error = load_mono(path).expect_err("bad file must fail");
        let kind = match &error {
            Error::EmptyAudio { .. } => "empty",
            Error::Decode { .. } => "decode",
            Error::UnsupportedAudio { .. } => "unsupported",
            Error::Io { .. } => "io",
            _ => "other",
        };
        let message = error.to_string();
        println!("{}: {message}", path.display());
        assert_eq!(kind, expected_kind, "{message}");
        assert!(message.contains(&path.display().to_string()), "{message}");
    }
}

#[test]
fn summary_statistics_match_librosa() {
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("summary_reference.json")).expect("read reference"),
    )
    .expect("parse reference");
    let samples = load_mono(&fixture("chord_22050.wav")).expect("decode");
    let coefficients = mfcc(&samples, &MfccConfig::default()).expect("mfcc");
    let config = SummaryConfig {
        deltas: true,
        spectral_centroid: true,
        spectral_rolloff: true,
        zero_crossing_rate: true,
        rms: true,
        ..SummaryConfig::default()
    };
    let vector = summary_vector(&samples, &coefficients, &config);
    let names = config.column_names(20);
    assert_eq!(vector.len(), names.len());
    assert_eq!(vector.len(), 4 * 20 + 8);

    let mut expected = Vec::new();
    for key in ["mfcc_mean", "mfcc_std", "delta_mean", "delta_std"] {
        for value in reference[key].as_array().expect("list") {
            expected.push(value.as_f64().expect("number"));
        }
    }
    for descriptor in [
        "spectral_centroid",
        "spectral_rolloff",
        "zero_crossing_rate",
        "rms",
    ] {
        for statistic in ["mean", "std"] {
            expected.push(
                reference[format!("{descriptor}_{statistic}")]
                    .as_f64()
                    .expect("number"),
            );
        }
    }
    for ((name, ours), theirs) in names.iter().zip(vector.iter()).zip(&expected) {
        let ours = f64::from(*ours);
        // float32 librosa vs float64 here: 1e-4 relative, with an absolute
        // floor of 1e-4 for statistics close to zero (delta means).
        let tolerance = 1e-4 * theirs.abs().max(1.0);
        assert!(
            (ours - theirs).abs() <= tolerance,
            "{name}: ours {ours}, librosa {theirs}"
        );
    }
}

#[test]
fn chroma_of_22050_hz_wavs_matches_librosa_with_tuning_zero() {
    // References: fixtures/audio/make_chroma_reference.py (librosa 0.11, tuning=0.0).
    for name in ["chord_22050.wav", "stereo_22050.wav", "clip_22050.wav"] {
        let samples = load_mono(&fixture(name)).expect("decode fixture");
        let ours = chroma_stft(&samples, 22_050, 2048, 512).expect("chroma");
        let reference: Array2<f32> =
            ndarray_npy::read_npy(fixture(&format!("{name}.chroma.npy"))).expect("reference npy");
        let (relative, absolute) = parity(&ours, &reference);
        println!("{name}: chroma relative Frobenius {relative:.3e}, max abs {absolute:.3e}");
        assert!(relative <= MAX_RELATIVE_FROBENIUS, "{name}: {relative}");
    }
}

#[test]
fn chroma_summary_block_matches_librosa_means_and_stds() {
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("chroma_reference.json")).expect("read reference"),
    )
    .expect("parse reference");
    let samples = load_mono(&fixture("chord_22050.wav")).expect("decode");
    let coefficients = mfcc(&samples, &MfccConfig::default()).expect("mfcc");
    let config = SummaryConfig {
        chroma: true,
        ..SummaryConfig::default()
    };
    let vector = summary_vector(&samples, &coefficients, &config);
    assert_eq!(vector.len(), 2 * 20 + 2 * 12);
    let file = &reference["files"]["chord_22050.wav"];
    let mut expected = Vec::new();
    for key in ["chroma_mean", "chroma_std"] {
        for value in file[key].as_array().expect("list") {
            expected.push(value.as_f64().expect("number"));
        }
    }
    for (index, (ours, theirs)) in vector.iter().skip(40).zip(&expected).enumerate() {
        let ours = f64::from(*ours);
        assert!(
            (ours - theirs).abs() <= 1e-5 * theirs.abs().max(1.0),
            "chroma column {index}: ours {ours}, librosa {theirs}"
        );
    }
}
