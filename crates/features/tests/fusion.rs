//! Fusion: z-scoring and equal-variance modality weights.

use ndarray::Array2;
use songvae_features::fusion::{FusionConfig, Modality, fuse, parse_modalities, zscore_columns};

/// A deterministic, varied matrix: value depends non-linearly on row and column.
fn matrix(rows: usize, columns: usize, scale: f64) -> Array2<f64> {
    Array2::from_shape_fn((rows, columns), |(row, column)| {
        scale * (((row * 7 + column * 13) % 17) as f64 + (row as f64 * 0.3 + column as f64).sin())
    })
}

fn block_total_variance(fused: &Array2<f64>, columns: std::ops::Range<usize>) -> f64 {
    let rows = fused.nrows() as f64;
    let mut total = 0.0;
    for column in columns {
        let values = fused.column(column);
        let mean = values.sum() / rows;
        total += values
            .iter()
            .map(|value| (value - mean) * (value - mean))
            .sum::<f64>()
            / rows;
    }
    total
}

#[test]
fn zscore_gives_zero_mean_unit_variance_and_zeroes_constant_columns() {
    let mut input = matrix(30, 4, 100.0);
    input.column_mut(2).fill(5.0);
    let (scaled, varying) = zscore_columns(&input);
    assert_eq!(varying, 3);
    for column in 0..4 {
        let values = scaled.column(column);
        let mean = values.sum() / 30.0;
        let variance = values
            .iter()
            .map(|value| (value - mean) * (value - mean))
            .sum::<f64>()
            / 30.0;
        assert!(mean.abs() < 1e-12, "column {column} mean {mean}");
        let expected = if column == 2 { 0.0 } else { 1.0 };
        assert!(
            (variance - expected).abs() < 1e-12,
            "column {column} variance {variance}"
        );
    }
}

#[test]
fn each_modality_gets_its_weight_as_total_variance() {
    let audio = matrix(50, 40, 1000.0);
    let lyrics = matrix(50, 300, 0.01);
    let cases = [
        (FusionConfig::default(), 1.0, 1.0),
        (
            FusionConfig {
                audio_weight: 2.0,
                lyrics_weight: 1.0,
            },
            2.0,
            1.0,
        ),
        (
            FusionConfig {
                audio_weight: 1.0,
                lyrics_weight: 0.0,
            },
            1.0,
            0.0,
        ),
    ];
    for (config, audio_variance, lyrics_variance) in cases {
        let (fused, scales) = fuse(
            &[(Modality::Audio, &audio), (Modality::Lyrics, &lyrics)],
            &config,
        )
        .expect("fuses");
        assert_eq!(fused.shape(), &[50, 340]);
        assert_eq!(scales.len(), 2);
        let audio_total = block_total_variance(&fused, 0..40);
        let lyrics_total = block_total_variance(&fused, 40..340);
        assert!(
            (audio_total - audio_variance).abs() < 1e-9,
            "{config:?}: audio {audio_total}"
        );
        assert!(
            (lyrics_total - lyrics_variance).abs() < 1e-9,
            "{config:?}: lyrics {lyrics_total}"
        );
    }
}

#[test]
fn a_single_modality_and_bad_inputs() {
    let audio = matrix(10, 3, 1.0);
    let (fused, _) = fuse(&[(Modality::Audio, &audio)], &FusionConfig::default()).expect("fuses");
    assert!((block_total_variance(&fused, 0..3) - 1.0).abs() < 1e-9);

    let short = matrix(9, 3, 1.0);
    let error = fuse(
        &[(Modality::Audio, &audio), (Modality::Lyrics, &short)],
        &FusionConfig::default(),
    )
    .expect_err("row mismatch");
    assert!(
        error.to_string().contains("lyrics block has 9 rows"),
        "{error}"
    );
    let negative = FusionConfig {
        audio_weight: -1.0,
        lyrics_weight: 1.0,
    };
    let error = fuse(&[(Modality::Audio, &audio)], &negative).expect_err("negative weight");
    assert!(error.to_string().contains("fusion.audio_weight"), "{error}");
}

#[test]
fn modality_lists_parse() {
    let cases: [(&str, Result<Vec<Modality>, &str>); 6] = [
        ("audio", Ok(vec![Modality::Audio])),
        ("lyrics", Ok(vec![Modality::Lyrics])),
        ("audio,lyrics", Ok(vec![Modality::Audio, Modality::Lyrics])),
        ("lyrics, audio", Ok(vec![Modality::Audio, Modality::Lyrics])),
        ("audio,audio", Err("listed twice")),
        ("video", Err("unknown modality `video`")),
    ];
    for (text, expected) in cases {
        match (parse_modalities(text), expected) {
            (Ok(parsed), Ok(expected)) => assert_eq!(parsed, expected, "{text}"),
            (Err(error), Err(fragment)) => {
                assert!(error.to_string().contains(fragment), "{text}: {error}");
            }
            (outcome, expected) => panic!("{text}: got {outcome:?}, expected {expected:?}"),
        }
    }
}
