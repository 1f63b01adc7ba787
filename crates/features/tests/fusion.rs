//! Fusion: unit rows, column transforms and block weights.

use ndarray::Array2;
use songvae_features::fusion::{
    BlockWeighting, FusedBlock, FusionConfig, Modality, fuse, parse_modalities, unit_length_rows,
};
use songvae_features::transform::ColumnTransform;

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

fn column_variance(fused: &Array2<f64>, column: usize) -> f64 {
    block_total_variance(fused, column..column + 1)
}

/// The rule before transforms existed: every column z-scored, each block
/// scaled by `sqrt(weight / varying columns)`.
fn old_rule() -> FusionConfig {
    FusionConfig {
        audio_transform: ColumnTransform::Standard,
        lyrics_transform: ColumnTransform::Standard,
        lyrics_unit_rows: false,
        ..FusionConfig::default()
    }
}

#[test]
fn each_block_gets_its_weight_as_total_variance_under_every_transform() {
    let audio = matrix(50, 40, 1000.0);
    let lyrics = matrix(50, 300, 0.01);
    for audio_transform in ColumnTransform::ALL {
        for lyrics_transform in ColumnTransform::ALL {
            for (audio_weight, lyrics_weight) in [(1.0, 1.0), (2.0, 1.0), (1.0, 0.0)] {
                let config = FusionConfig {
                    audio_weight,
                    lyrics_weight,
                    audio_transform,
                    lyrics_transform,
                    ..FusionConfig::default()
                };
                let (fused, blocks) = fuse(
                    &[(Modality::Audio, &audio), (Modality::Lyrics, &lyrics)],
                    &config,
                )
                .expect("fuses");
                assert_eq!(fused.shape(), &[50, 340]);
                assert_eq!(blocks.len(), 2);
                let audio_total = block_total_variance(&fused, 0..40);
                let lyrics_total = block_total_variance(&fused, 40..340);
                assert!(
                    (audio_total - audio_weight).abs() < 1e-9,
                    "{config:?}: audio {audio_total}"
                );
                assert!(
                    (lyrics_total - lyrics_weight).abs() < 1e-9,
                    "{config:?}: lyrics {lyrics_total}"
                );
            }
        }
    }
}

#[test]
fn block_scaling_keeps_the_variance_ratios_inside_a_block() {
    // Components with a decaying spectrum, as an SVD gives them.
    let lyrics = Array2::from_shape_fn((60, 6), |(row, column)| {
        let spread = 10.0 / (column as f64 + 1.0).powi(2);
        spread * ((row * (column + 3)) as f64 * 0.7).sin()
    });
    let config = FusionConfig {
        lyrics_unit_rows: false,
        ..FusionConfig::default()
    };
    let (fused, _) = fuse(&[(Modality::Lyrics, &lyrics)], &config).expect("fuses");
    for column in 1..6 {
        let before = column_variance(&lyrics, column) / column_variance(&lyrics, 0);
        let after = column_variance(&fused, column) / column_variance(&fused, 0);
        assert!(
            (before - after).abs() < 1e-12 * before.max(1.0),
            "column {column}: ratio {before} became {after}"
        );
    }
    // Per-column z-scoring (the old rule) flattens the spectrum instead.
    let (flattened, _) = fuse(&[(Modality::Lyrics, &lyrics)], &old_rule()).expect("fuses");
    for column in 1..6 {
        let ratio = column_variance(&flattened, column) / column_variance(&flattened, 0);
        assert!((ratio - 1.0).abs() < 1e-9, "column {column}: ratio {ratio}");
    }
}

#[test]
fn unit_rows_have_norm_one_and_zero_rows_stay_zero() {
    let mut lyrics = matrix(20, 8, 3.0);
    lyrics.row_mut(4).fill(0.0);
    let unit = unit_length_rows(lyrics.view());
    for (index, row) in unit.rows().into_iter().enumerate() {
        let norm = row.iter().map(|value| value * value).sum::<f64>().sqrt();
        let expected = if index == 4 { 0.0 } else { 1.0 };
        assert!((norm - expected).abs() < 1e-12, "row {index}: norm {norm}");
    }
    // Fusion normalises the rows before anything else: scaling a row does not move it.
    let mut scaled = lyrics.clone();
    scaled.row_mut(7).mapv_inplace(|value| value * 50.0);
    let (first, _) = fuse(&[(Modality::Lyrics, &lyrics)], &FusionConfig::default()).expect("fuses");
    let (second, _) =
        fuse(&[(Modality::Lyrics, &scaled)], &FusionConfig::default()).expect("fuses");
    for (a, b) in first.iter().zip(&second) {
        assert!((a - b).abs() < 1e-12);
    }
}

#[test]
fn the_old_rule_is_z_scores_scaled_by_the_varying_column_count() {
    let mut audio = matrix(30, 4, 100.0);
    audio.column_mut(2).fill(5.0);
    let (fused, blocks) = fuse(&[(Modality::Audio, &audio)], &old_rule()).expect("fuses");
    let scale = (1.0f64 / 3.0).sqrt();
    assert!(
        (blocks[0].scale - scale).abs() < 1e-12,
        "{}",
        blocks[0].scale
    );
    for column in 0..4 {
        let values = audio.column(column);
        let mean = values.sum() / 30.0;
        let deviation = (values
            .iter()
            .map(|value| (value - mean).powi(2))
            .sum::<f64>()
            / 30.0)
            .sqrt();
        for (row, value) in fused.column(column).iter().enumerate() {
            let expected = if column == 2 {
                0.0
            } else {
                (audio[[row, column]] - mean) / deviation * scale
            };
            assert!(
                (value - expected).abs() < 1e-12,
                "row {row}, column {column}"
            );
        }
    }
}

#[test]
fn a_fused_block_record_fuses_the_same_rows_again() {
    let audio = matrix(25, 5, 7.0).mapv(|value| value * value);
    let lyrics = matrix(25, 9, 0.2);
    for audio_transform in ColumnTransform::ALL {
        let config = FusionConfig {
            audio_transform,
            ..FusionConfig::default()
        };
        let (fused, blocks) = fuse(
            &[(Modality::Audio, &audio), (Modality::Lyrics, &lyrics)],
            &config,
        )
        .expect("fuses");
        let json = serde_json::to_string(&blocks).expect("serialises");
        let blocks: Vec<FusedBlock> = serde_json::from_str(&json).expect("parses");
        let again_audio = blocks[0].apply(audio.view()).expect("applies");
        let again_lyrics = blocks[1].apply(lyrics.view()).expect("applies");
        for ((row, column), value) in fused.indexed_iter() {
            let again = if column < 5 {
                again_audio[[row, column]]
            } else {
                again_lyrics[[row, column - 5]]
            };
            assert!(
                (value - again).abs() < 1e-12,
                "{audio_transform:?} row {row}, column {column}"
            );
        }
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
        ..FusionConfig::default()
    };
    let error = fuse(&[(Modality::Audio, &audio)], &negative).expect_err("negative weight");
    assert!(error.to_string().contains("fusion.audio_weight"), "{error}");
    let constant = Array2::from_elem((10, 3), 4.0);
    let (fused, blocks) =
        fuse(&[(Modality::Audio, &constant)], &FusionConfig::default()).expect("fuses");
    assert!(blocks[0].scale == 0.0, "scale {}", blocks[0].scale);
    assert!(fused.iter().all(|value| *value == 0.0));
}

#[test]
fn fusion_settings_parse_and_reject_unknown_keys() {
    let config: FusionConfig = serde_json::from_str(
        r#"{"audio_transform": "quantile_normal", "lyrics_unit_rows": false}"#,
    )
    .expect("parses");
    assert_eq!(config.audio_transform, ColumnTransform::QuantileNormal);
    assert!(!config.lyrics_unit_rows);
    assert_eq!(
        config.lyrics_transform,
        FusionConfig::default().lyrics_transform
    );
    let error = serde_json::from_str::<FusionConfig>(r#"{"audio_transform": "log"}"#).unwrap_err();
    assert!(
        error.to_string().contains("unknown variant `log`"),
        "{error}"
    );
    let error = serde_json::from_str::<FusionConfig>(r#"{"lyrics_rows": true}"#).unwrap_err();
    assert!(
        error.to_string().contains("unknown field `lyrics_rows`"),
        "{error}"
    );
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

#[test]
fn first_eigenvalue_weighting_sets_each_block_s_leading_variance() {
    let audio = matrix(60, 6, 3.0);
    let lyrics = Array2::from_shape_fn((60, 20), |(row, column)| {
        ((row * (column + 2)) as f64 * 0.37).sin() / (column as f64 + 1.0)
    });
    let config = FusionConfig {
        audio_weight: 1.0,
        lyrics_weight: 2.0,
        block_weighting: BlockWeighting::FirstEigenvalue,
        ..FusionConfig::default()
    };
    let (fused, blocks) = fuse(
        &[(Modality::Audio, &audio), (Modality::Lyrics, &lyrics)],
        &config,
    )
    .expect("fuses");
    for (columns, weight) in [(0..6, 1.0), (6..26, 2.0)] {
        let block = fused.slice(ndarray::s![.., columns]).to_owned();
        let rows = block.nrows() as f64;
        let covariance = block.t().dot(&block) / rows;
        let eigen =
            nalgebra::DMatrix::from_fn(covariance.nrows(), covariance.ncols(), |row, column| {
                covariance[[row, column]]
            })
            .symmetric_eigen();
        let largest = eigen.eigenvalues.iter().copied().fold(f64::MIN, f64::max);
        assert!(
            (largest - weight).abs() < 1e-9,
            "leading variance {largest}, weight {weight}"
        );
    }
    assert!(blocks.iter().all(|block| block.scale > 0.0));
}
