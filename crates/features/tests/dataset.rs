//! Dataset builds: outputs, per-track failures, strict mode, cache reuse and atomic writes.

use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2, Array3};
use ndarray_npy::{read_npy, write_npy};
use serde_json::Value;
use songvae_features::build::{
    BuildOptions, BuildReport, FeatureBuild, build_feature_sets, build_features, read_failures,
};
use songvae_features::cache::write_atomic;
use songvae_features::dataset::FeatureSettings;
use songvae_features::error::Error;
use songvae_features::fusion::{FusionConfig, Modality};
use songvae_features::lyrics::LyricsConfig;
use songvae_features::transform::ColumnTransform;

fn write_sine_wav(path: &Path, seconds: f64, frequency: f64) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 22_050,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).expect("create wav");
    let count = (seconds * 22_050.0) as usize;
    for index in 0..count {
        let time = index as f64 / 22_050.0;
        let value = 0.5 * (2.0 * std::f64::consts::PI * frequency * time).sin();
        writer
            .write_sample((value * 32767.0) as i16)
            .expect("write sample");
    }
    writer.finalize().expect("finalize wav");
}

fn small_settings() -> FeatureSettings {
    let defaults = FeatureSettings::default();
    FeatureSettings {
        frames: 16,
        lyrics: LyricsConfig {
            dims: 3,
            ..defaults.lyrics.clone()
        },
        ..defaults
    }
}

/// Writes `descriptor_json` as `root/dataset.json` and returns its path.
fn write_descriptor(root: &Path, descriptor_json: &str) -> PathBuf {
    let descriptor = root.join("dataset.json");
    std::fs::write(&descriptor, descriptor_json).expect("write descriptor");
    descriptor
}

/// Builds `descriptor` into `out` with [`small_settings`] and default options.
fn build_small(descriptor: &Path, out: &Path) -> songvae_features::error::Result<BuildReport> {
    build_features(descriptor, out, &small_settings(), &BuildOptions::default())
}

/// Builds `descriptor` into `out` with [`small_settings`] restricted to `modality`.
fn build_one_modality(descriptor: &Path, out: &Path, modality: Modality) -> BuildReport {
    let mut settings = small_settings();
    settings.modalities = Some(vec![modality]);
    build_features(descriptor, out, &settings, &BuildOptions::default()).expect("builds")
}

/// The names of the entries of `directory`, sorted.
fn file_names(directory: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(directory)
        .expect("list")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// A dataset built in a temporary folder: written under `data/` and built
/// into `out/` with [`small_settings`]. The folder lives as long as this value.
struct TempBuild {
    directory: tempfile::TempDir,
    descriptor: PathBuf,
    out: PathBuf,
    report: BuildReport,
}

/// Writes a dataset with `write_dataset` (which returns its descriptor) and builds it.
fn temp_build(write_dataset: fn(&Path) -> PathBuf) -> TempBuild {
    let directory = tempfile::tempdir().expect("temp dir");
    let descriptor = write_dataset(&directory.path().join("data"));
    let out = directory.path().join("out");
    let report = build_small(&descriptor, &out).expect("builds");
    TempBuild {
        directory,
        descriptor,
        out,
        report,
    }
}

/// An audio-file dataset where most kinds of bad input occur once.
/// Returns the descriptor path.
fn audio_files_dataset(root: &Path) -> PathBuf {
    std::fs::create_dir_all(root.join("audio")).expect("mkdir");
    std::fs::create_dir_all(root.join("lyrics")).expect("mkdir");
    for (name, frequency) in [
        ("a", 220.0),
        ("b", 440.0),
        ("c", 330.0),
        ("d", 550.0),
        ("e", 660.0),
    ] {
        write_sine_wav(&root.join(format!("audio/{name}.wav")), 1.0, frequency);
    }
    std::fs::write(
        root.join("audio/corrupt.wav"),
        b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk",
    )
    .expect("write");
    write_sine_wav(&root.join("audio/empty.wav"), 0.0, 100.0);
    std::fs::write(root.join("lyrics/a.txt"), "Love me tender, love me true").expect("write");
    std::fs::write(
        root.join("lyrics/b.txt"),
        "\u{FEFF}আমি তোমাকে ভালোবাসি, তুমি আমার গান",
    )
    .expect("write");
    std::fs::write(root.join("lyrics/d.txt"), "tender night, true heart").expect("write");
    std::fs::write(root.join("lyrics/latin1.txt"), b"coraz\xF3n de ni\xF1a").expect("write");
    let manifest = "\
id,audio_path,lyrics_path,genre
a,audio/a.wav,lyrics/a.txt,pop
b,audio/b.wav,lyrics/b.txt,folk
c,audio/c.wav,,pop
d,audio/d.wav,lyrics/d.txt,folk
broken,audio/corrupt.wav,lyrics/a.txt,pop
gone,audio/missing.wav,lyrics/a.txt,pop
latin,audio/e.wav,lyrics/latin1.txt,folk
silent,audio/empty.wav,,pop
twice,audio/a.wav,,pop
twice,audio/b.wav,,folk
nolabel,audio/e.wav,,
";
    std::fs::write(root.join("manifest.csv"), manifest).expect("write");
    write_descriptor(
        root,
        r#"{"name": "mixed", "manifest": "manifest.csv", "id_column": "id",
            "audio": {"files": "audio_path"}, "lyrics": {"files": "lyrics_path"}, "labels": ["genre"]}"#,
    )
}

#[test]
fn audio_files_build_writes_every_output_and_lists_failures() {
    let TempBuild {
        directory: _directory,
        out,
        report,
        ..
    } = temp_build(audio_files_dataset);

    assert!(!report.reused);
    let ids = std::fs::read_to_string(out.join("ids.txt")).expect("ids.txt");
    assert_eq!(ids, "a\nb\nc\nd\n");
    let features: Array2<f32> = read_npy(out.join("features.npy")).expect("features.npy");
    // 40 audio summary columns (20 MFCC x mean/std) + 3 lyrics SVD columns.
    assert_eq!(features.shape(), &[4, 43]);
    assert_eq!(report.manifest.modality_dims, vec![40, 3]);
    assert_eq!(
        report.manifest.modalities,
        vec![Modality::Audio, Modality::Lyrics]
    );
    let frames: Array3<f32> = read_npy(out.join("frames.npy")).expect("frames.npy");
    assert_eq!(frames.shape(), &[4, 20, 16]);
    assert_eq!(report.manifest.frames_shape, Some([20, 16]));
    assert_eq!(report.manifest.without_lyrics, 1);

    let labels: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("labels.json")).expect("labels.json"),
    )
    .expect("labels.json parses");
    assert_eq!(labels["primary"], "genre");
    assert_eq!(
        labels["labels"]["genre"],
        serde_json::json!(["pop", "folk", "pop", "folk"])
    );
    assert_eq!(
        labels["has_lyrics"],
        serde_json::json!([true, true, false, true])
    );

    let failures = read_failures(&out).expect("failures.json");
    let expected: [(&str, &str, &str); 7] = [
        ("broken", "corrupt.wav", ""),
        ("gone", "missing.wav", ""),
        ("latin", "latin1.txt", "not valid UTF-8"),
        ("silent", "empty.wav", ""),
        ("twice", "manifest.csv", "duplicate id"),
        ("twice", "manifest.csv", "duplicate id"),
        (
            "nolabel",
            "manifest.csv",
            "label column `genre` has no value",
        ),
    ];
    assert_eq!(failures.len(), expected.len(), "{failures:#?}");
    for (failure, (id, path_end, reason)) in failures.iter().zip(expected) {
        assert_eq!(failure.id, id);
        assert!(
            failure.path.ends_with(path_end),
            "{failure:?} path should end with {path_end}"
        );
        assert!(
            failure.reason.contains(reason),
            "{failure:?} reason should contain {reason:?}"
        );
        assert!(!failure.reason.is_empty());
    }
    // Lines: the header is line 1, so `broken` (row 5) is on line 6.
    assert_eq!(failures[0].line, 6);
    assert!(
        failures[4].reason.contains("lines 10, 11"),
        "{}",
        failures[4].reason
    );
    let summary = report.summary_text();
    assert!(
        summary.contains("4 tracks, 7 failed, 1 without lyrics"),
        "{summary}"
    );
    assert!(summary.contains("failed: id `latin`"), "{summary}");

    // No temporary file is left behind.
    for entry in std::fs::read_dir(&out).expect("list out") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        assert!(!name.contains(".tmp-"), "leftover temporary file {name}");
    }
}

#[test]
fn strict_mode_and_no_survivors_fail_after_writing_failures() {
    let directory = tempfile::tempdir().expect("temp dir");
    let descriptor = audio_files_dataset(&directory.path().join("data"));
    let out = directory.path().join("out");
    let strict = BuildOptions {
        strict: true,
        ..BuildOptions::default()
    };
    let error =
        build_features(&descriptor, &out, &small_settings(), &strict).expect_err("strict fails");
    assert!(
        matches!(error, Error::StrictFailures { failed: 7, .. }),
        "{error}"
    );
    assert_eq!(read_failures(&out).expect("failures.json").len(), 7);
    assert!(!out.join("manifest.json").exists());

    // A non-strict build caches; a strict rerun of the same inputs still fails.
    build_small(&descriptor, &out).expect("builds");
    let error = build_features(&descriptor, &out, &small_settings(), &strict)
        .expect_err("strict fails on reuse");
    assert!(
        matches!(error, Error::StrictFailures { failed: 7, .. }),
        "{error}"
    );

    let root = directory.path().join("allbad");
    std::fs::create_dir_all(&root).expect("mkdir");
    std::fs::write(root.join("m.csv"), "id,path\nx,nothing.wav\ny,\n").expect("write");
    let descriptor = write_descriptor(
        &root,
        r#"{"name": "bad", "manifest": "m.csv", "id_column": "id", "audio": {"files": "path"}}"#,
    );
    let bad_out = directory.path().join("bad-out");
    let error = build_small(&descriptor, &bad_out).expect_err("nothing survives");
    assert!(
        matches!(error, Error::NoTrackSurvived { failed: 2, .. }),
        "{error}"
    );
    let failures = read_failures(&bad_out).expect("failures.json");
    assert!(
        failures[1]
            .reason
            .contains("column `path` has no audio path"),
        "{failures:?}"
    );
}

/// A precomputed dataset: `.npy` audio vectors and frames, text lyrics, JSON Lines manifest.
fn npy_dataset(root: &Path) -> PathBuf {
    std::fs::create_dir_all(root.join("features")).expect("mkdir");
    let mut lines = String::new();
    let lyrics = [
        "love me tender",
        "",
        "ভালোবাসা আর স্বপ্ন",
        "gone",
        "short",
        "flat",
    ];
    for (index, id) in ["s1", "s2", "s3", "s4", "s5", "s6"].iter().enumerate() {
        let length = if *id == "s5" { 7 } else { 8 };
        if *id != "s4" {
            let vector =
                Array1::from_shape_fn(length, |column| (index * 3 + column * column) as f32);
            write_npy(root.join(format!("features/{id}.npy")), &vector).expect("write npy");
        }
        let frames = if *id == "s6" {
            Array3::<f32>::zeros((1, 4, 9))
        } else {
            Array3::from_shape_fn((1, 4, 10), |(_, channel, time)| {
                (index + channel * time) as f32
            })
        };
        write_npy(root.join(format!("features/{id}_frames.npy")), &frames).expect("write npy");
        lines.push_str(
            &serde_json::json!({"id": id, "lyrics": lyrics[index], "language": "x"}).to_string(),
        );
        lines.push('\n');
    }
    std::fs::write(root.join("meta.jsonl"), lines).expect("write");
    write_descriptor(
        root,
        r#"{"name": "npy", "manifest": "meta.jsonl", "id_column": "id", "audio": {"npy": "features/{id}.npy"},
            "frames": {"npy": "features/{id}_frames.npy"}, "lyrics": {"text_column": "lyrics"}, "labels": ["language"]}"#,
    )
}

#[test]
fn npy_shapes_are_checked_per_track_and_modalities_select_blocks() {
    let TempBuild {
        directory,
        descriptor,
        out,
        report,
    } = temp_build(npy_dataset);
    let ids = std::fs::read_to_string(out.join("ids.txt")).expect("ids.txt");
    assert_eq!(ids, "s1\ns2\ns3\n");
    let failures = read_failures(&out).expect("failures.json");
    let reasons: Vec<(&str, &str)> = failures
        .iter()
        .map(|failure| {
            (
                failure.id.as_str(),
                failure.path.rsplit('/').next().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        vec![("s4", "s4.npy"), ("s5", "s5.npy"), ("s6", "s6_frames.npy")]
    );
    assert!(failures[0].reason.contains("cannot read"), "{failures:?}");
    assert!(
        failures[1]
            .reason
            .contains("audio vector has shape [7], most tracks have [8]"),
        "{failures:?}"
    );
    assert!(
        failures[2]
            .reason
            .contains("frame matrix has shape [4, 9], most tracks have [4, 10]"),
        "{failures:?}"
    );
    let frames: Array3<f32> = read_npy(out.join("frames.npy")).expect("frames.npy");
    assert_eq!(frames.shape(), &[3, 4, 10]);
    assert_eq!(report.manifest.without_lyrics, 1);

    let audio_out = directory.path().join("audio-only");
    let report = build_one_modality(&descriptor, &audio_out, Modality::Audio);
    assert_eq!(report.manifest.modalities, vec![Modality::Audio]);
    let features: Array2<f32> = read_npy(audio_out.join("features.npy")).expect("features.npy");
    assert_eq!(features.shape(), &[3, 8]);
    let labels: Value = serde_json::from_str(
        &std::fs::read_to_string(audio_out.join("labels.json")).expect("labels.json"),
    )
    .expect("labels.json parses");
    assert_eq!(labels["has_lyrics"], Value::Null);

    let lyrics_out = directory.path().join("lyrics-only");
    let report = build_one_modality(&descriptor, &lyrics_out, Modality::Lyrics);
    // Without the audio modality no .npy is read, so only s4..s6's lyrics matter: all survive.
    assert_eq!(report.manifest.tracks, 6);
    assert!(!lyrics_out.join("frames.npy").exists());
}

#[test]
fn numeric_columns_skip_id_labels_and_excluded_and_fail_bad_cells() {
    let directory = tempfile::tempdir().expect("temp dir");
    let root = directory.path();
    std::fs::write(
        root.join("table.csv"),
        "\u{FEFF}name,tempo,length,energy,label,comment\n\
         a,120,30,0.5,rock,\"fast, loud\"\n\
         b,90,30,0.2,jazz,slow\n\
         c,,30,0.9,rock,gap\n\
         d,100,30,high,jazz,text\n\
         e,80,30,0.1,rock,quiet\n",
    )
    .expect("write");
    let descriptor = write_descriptor(
        root,
        r#"{"name": "table", "manifest": "table.csv", "id_column": "name",
            "audio": {"columns": "numeric", "exclude": ["length"]}, "labels": ["label"]}"#,
    );
    let out = root.join("out");
    let report = build_small(&descriptor, &out).expect("builds");
    // `energy` holds one "high" among numbers, so it stays numeric and row
    // d fails on that cell; row c, whose tempo is empty, fails too.
    assert_eq!(report.manifest.feature_dims, 2);
    assert_eq!(
        std::fs::read_to_string(out.join("ids.txt")).expect("ids"),
        "a\nb\ne\n"
    );
    let failures = read_failures(&out).expect("failures.json");
    assert_eq!(failures.len(), 2);
    assert!(
        failures[0].reason.contains("column `tempo` has no value"),
        "{failures:?}"
    );
    assert_eq!(failures[0].column.as_deref(), Some("tempo"));
    assert_eq!(failures[0].cell.as_deref(), Some(""));
    assert_eq!(
        (failures[1].id.as_str(), failures[1].line),
        ("d", 5),
        "{failures:?}"
    );
    assert_eq!(failures[1].column.as_deref(), Some("energy"));
    assert_eq!(failures[1].cell.as_deref(), Some("high"));
    let columns = report
        .manifest
        .audio_columns
        .as_ref()
        .expect("a table dataset");
    assert_eq!(columns.used, vec!["tempo", "energy"]);
    let mut excluded = Vec::new();
    for column in &columns.excluded {
        excluded.push(format!("{}: {}", column.column, column.reason));
    }
    assert_eq!(
        excluded,
        vec![
            "name: the id column",
            "length: listed in audio.exclude",
            "label: a label column",
            "comment: text: 5 of 5 filled cells are not numbers, first `fast, loud` on line 2",
        ]
    );
    let summary = report.summary_text();
    assert!(
        summary.contains("audio columns used (2): tempo, energy"),
        "{summary}"
    );
    assert!(
        summary.contains(
            "audio columns excluded (4): name (the id column); length (listed in audio.exclude)"
        ),
        "{summary}"
    );

    std::fs::write(
        root.join("named.json"),
        r#"{"name": "table", "manifest": "table.csv", "id_column": "name",
            "audio": {"columns": ["tempo", "energy"]}, "labels": ["label"]}"#,
    )
    .expect("write");
    let named_out = root.join("named-out");
    build_small(&root.join("named.json"), &named_out).expect("builds");
    let failures = read_failures(&named_out).expect("failures.json");
    let ids: Vec<&str> = failures.iter().map(|failure| failure.id.as_str()).collect();
    assert_eq!(ids, vec!["c", "d"]);
    assert!(
        failures[1]
            .reason
            .contains("column `energy` value `high` is not a finite number"),
        "{failures:?}"
    );

    std::fs::write(
        root.join("typo.json"),
        r#"{"name": "table", "manifest": "table.csv", "id_column": "name", "audio": {"columns": ["tempo", "enrgy"]}}"#,
    )
    .expect("write");
    let error =
        build_small(&root.join("typo.json"), &root.join("typo-out")).expect_err("missing column");
    assert!(
        error
            .to_string()
            .contains("column `enrgy` (from descriptor key `audio.columns`)"),
        "{error}"
    );
}

#[test]
fn an_unchanged_build_is_reused_and_changes_invalidate_it() {
    let directory = tempfile::tempdir().expect("temp dir");
    let descriptor = npy_dataset(&directory.path().join("data"));
    let out = directory.path().join("out");
    let settings = small_settings();
    let first =
        build_features(&descriptor, &out, &settings, &BuildOptions::default()).expect("builds");
    assert!(!first.reused);
    let features_before = std::fs::read(out.join("features.npy")).expect("features");

    let second =
        build_features(&descriptor, &out, &settings, &BuildOptions::default()).expect("reuses");
    assert!(second.reused);
    assert_eq!(second.manifest, first.manifest);
    assert_eq!(second.failures, first.failures);
    assert!(second.summary_text().contains("(cache reused)"));

    // A changed setting recomputes.
    let mut changed = settings.clone();
    changed.lyrics.dims = 2;
    let third =
        build_features(&descriptor, &out, &changed, &BuildOptions::default()).expect("builds");
    assert!(!third.reused);
    assert_ne!(third.manifest.hash, first.manifest.hash);

    // A changed input file recomputes, and gives the same result as before once restored.
    let vector_path = directory.path().join("data/features/s1.npy");
    let original = std::fs::read(&vector_path).expect("read npy");
    write_npy(&vector_path, &Array1::<f32>::from_elem(8, 3.0)).expect("write npy");
    let fourth =
        build_features(&descriptor, &out, &settings, &BuildOptions::default()).expect("builds");
    assert!(!fourth.reused);
    std::fs::write(&vector_path, original).expect("restore npy");
    let fifth =
        build_features(&descriptor, &out, &settings, &BuildOptions::default()).expect("builds");
    assert!(!fifth.reused);
    assert_eq!(fifth.manifest.hash, first.manifest.hash);
    assert_eq!(
        std::fs::read(out.join("features.npy")).expect("features"),
        features_before
    );

    // A cache missing one of its files is not reused; --force always recomputes.
    std::fs::remove_file(out.join("ids.txt")).expect("remove");
    assert!(
        !build_features(&descriptor, &out, &settings, &BuildOptions::default())
            .expect("builds")
            .reused
    );
    let forced = BuildOptions {
        force: true,
        ..BuildOptions::default()
    };
    assert!(
        !build_features(&descriptor, &out, &settings, &forced)
            .expect("builds")
            .reused
    );
}

#[test]
fn atomic_writes_replace_whole_files_and_leave_nothing_on_failure() {
    let directory = tempfile::tempdir().expect("temp dir");
    let path = directory.path().join("file.txt");
    write_atomic(&path, b"first version, longer").expect("write");
    write_atomic(&path, b"second").expect("write");
    assert_eq!(std::fs::read(&path).expect("read"), b"second");

    // Writing into a missing directory fails cleanly and creates nothing.
    let missing = directory.path().join("no/such/dir/file.txt");
    let error = write_atomic(&missing, b"x").expect_err("no directory");
    assert!(error.to_string().contains("no/such/dir"), "{error}");
    assert_eq!(file_names(directory.path()), vec!["file.txt".to_string()]);

    // A rename onto a directory fails and removes the temporary file.
    let blocker = directory.path().join("blocker");
    std::fs::create_dir_all(blocker.join("inner")).expect("mkdir");
    assert!(write_atomic(&blocker, b"x").is_err());
    assert_eq!(
        file_names(directory.path()),
        vec!["blocker".to_string(), "file.txt".to_string()]
    );
}

#[test]
fn precomputed_lyrics_embeddings_are_read_and_shape_checked() {
    let directory = tempfile::tempdir().expect("temp dir");
    let root = directory.path();
    std::fs::create_dir_all(root.join("emb")).expect("mkdir");
    let mut manifest = String::from("id,tempo\n");
    for (index, id) in ["p", "q", "r", "s"].iter().enumerate() {
        let length = if *id == "s" { 5 } else { 6 };
        let embedding = Array1::from_shape_fn(length, |column| ((index + 1) * (column + 2)) as f64);
        write_npy(root.join(format!("emb/{id}.npy")), &embedding).expect("write npy");
        manifest.push_str(id);
        manifest.push(',');
        manifest.push_str(&(100 + index * 7).to_string());
        manifest.push('\n');
    }
    std::fs::write(root.join("m.csv"), manifest).expect("write");
    let descriptor = write_descriptor(
        root,
        r#"{"name": "emb", "manifest": "m.csv", "id_column": "id",
            "audio": {"columns": ["tempo"]}, "lyrics": {"npy": "emb/{id}.npy"}}"#,
    );
    let out = root.join("out");
    let report = build_small(&descriptor, &out).expect("builds");
    assert_eq!(report.manifest.modality_dims, vec![1, 6]);
    assert_eq!(report.manifest.without_lyrics, 0);
    let failures = read_failures(&out).expect("failures.json");
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].id, "s");
    assert!(
        failures[0]
            .reason
            .contains("lyrics embedding has shape [5], most tracks have [6]")
            && failures[0].path.ends_with("s.npy"),
        "{failures:?}"
    );
}

#[test]
fn settings_and_modalities_are_checked_before_work() {
    let directory = tempfile::tempdir().expect("temp dir");
    let descriptor = audio_files_dataset(&directory.path().join("data"));
    std::fs::write(
        directory.path().join("audio-only.json"),
        r#"{"name": "a", "manifest": "data/manifest.csv", "id_column": "id", "audio": {"files": "audio_path"}}"#,
    )
    .expect("write");
    let lyrics_only = FeatureSettings {
        modalities: Some(vec![Modality::Lyrics]),
        ..small_settings()
    };
    let error = build_features(
        &directory.path().join("audio-only.json"),
        &directory.path().join("out"),
        &lyrics_only,
        &BuildOptions::default(),
    )
    .expect_err("no lyrics modality");
    assert!(
        error.to_string().contains("has no lyrics modality"),
        "{error}"
    );

    let bad_frames = FeatureSettings {
        frames: 0,
        ..small_settings()
    };
    let error = build_features(
        &descriptor,
        &directory.path().join("out"),
        &bad_frames,
        &BuildOptions::default(),
    )
    .expect_err("invalid frames");
    assert!(error.to_string().contains("frames"), "{error}");

    let unknown =
        serde_json::from_str::<FeatureSettings>(r#"{"lyrics": {"dims": 8}, "frame": 10}"#)
            .expect_err("unknown key");
    assert!(unknown.to_string().contains("frame"), "{unknown}");
    let parsed: FeatureSettings = serde_json::from_str(
        r#"{"lyrics": {"dims": 8, "analyzer": "char_wb"}, "modalities": ["audio"]}"#,
    )
    .expect("valid settings");
    assert_eq!(parsed.lyrics.dims, 8);
    assert_eq!(parsed.modalities, Some(vec![Modality::Audio]));
}

#[test]
fn a_numeric_column_with_a_bad_cell_keeps_its_place_and_the_track_fails() {
    // (bad cell as written in the CSV, the cell text failures.json names, reason)
    let cases = [
        (
            "n/a",
            "n/a",
            "column `rms_var` value `n/a` is not a finite number",
        ),
        (
            "\"12,5\"",
            "12,5",
            "column `rms_var` value `12,5` is not a finite number",
        ),
        (
            "NaN",
            "NaN",
            "column `rms_var` value `NaN` is not a finite number",
        ),
        (
            "inf",
            "inf",
            "column `rms_var` value `inf` is not a finite number",
        ),
        ("", "", "column `rms_var` has no value"),
    ];
    for (written, cell, reason) in cases {
        let directory = tempfile::tempdir().expect("temp dir");
        let root = directory.path();
        let mut table = String::from("id,tempo,rms_var,label\n");
        for row in 0..8 {
            let rms = if row == 3 {
                written.to_owned()
            } else {
                format!("{}.5", row * 7)
            };
            let label = ["a", "b"][row % 2];
            table.push_str(
                &[
                    format!("t{row}"),
                    (90 + row).to_string(),
                    rms,
                    label.to_owned(),
                ]
                .join(","),
            );
            table.push('\n');
        }
        std::fs::write(root.join("table.csv"), table).expect("write");
        let descriptor = write_descriptor(
            root,
            r#"{"name": "table", "manifest": "table.csv", "id_column": "id",
                "audio": {"columns": "numeric"}, "labels": ["label"]}"#,
        );
        let out = root.join("out");
        let report = build_small(&descriptor, &out).expect("builds");
        assert_eq!(
            report.manifest.feature_dims, 2,
            "{written}: rms_var keeps its place"
        );
        assert_eq!(report.manifest.tracks, 7, "{written}");
        let failures = read_failures(&out).expect("failures.json");
        assert_eq!(failures.len(), 1, "{written}: {failures:?}");
        let failure = &failures[0];
        assert_eq!((failure.id.as_str(), failure.line), ("t3", 5), "{written}");
        assert_eq!(failure.column.as_deref(), Some("rms_var"), "{written}");
        assert_eq!(failure.cell.as_deref(), Some(cell), "{written}");
        assert_eq!(failure.reason, reason, "{written}");
        let json = std::fs::read_to_string(out.join("failures.json")).expect("failures.json");
        assert!(json.contains("\"column\": \"rms_var\""), "{json}");
    }
}

#[test]
fn feature_sets_share_one_load_and_the_same_tracks() {
    let directory = tempfile::tempdir().expect("temp dir");
    let descriptor = audio_files_dataset(&directory.path().join("data"));
    let fused = small_settings();
    let audio_only = FeatureSettings {
        modalities: Some(vec![Modality::Audio]),
        fusion: FusionConfig {
            audio_transform: ColumnTransform::Standard,
            ..FusionConfig::default()
        },
        ..small_settings()
    };
    let lyrics_only = FeatureSettings {
        modalities: Some(vec![Modality::Lyrics]),
        lyrics: LyricsConfig {
            dims: 2,
            ..small_settings().lyrics
        },
        ..small_settings()
    };
    let builds: Vec<FeatureBuild> = [
        ("fused", &fused),
        ("audio", &audio_only),
        ("lyrics", &lyrics_only),
    ]
    .into_iter()
    .map(|(name, settings)| FeatureBuild {
        out_dir: directory.path().join(name),
        settings: settings.clone(),
    })
    .collect();
    let built = build_feature_sets(&descriptor, &builds, &BuildOptions::default()).expect("builds");
    assert_eq!(
        built.dataset_loads, 1,
        "fusion, modality and lyrics settings share one load"
    );
    let [fused_report, audio_report, lyrics_report] = built.reports.as_slice() else {
        panic!("three reports");
    };
    // The same tracks everywhere: `latin` fails on its lyrics even without the lyrics block.
    for report in &built.reports {
        assert_eq!(
            std::fs::read_to_string(report.out_dir.join("ids.txt")).expect("ids"),
            "a\nb\nc\nd\n"
        );
        assert!(report.failures.iter().any(|failure| failure.id == "latin"));
        assert_eq!(
            report.manifest.loaded_modalities,
            vec![Modality::Audio, Modality::Lyrics]
        );
    }
    assert_eq!(fused_report.manifest.modality_dims, vec![40, 3]);
    assert_eq!(audio_report.manifest.modality_dims, vec![40]);
    assert_eq!(lyrics_report.manifest.modality_dims, vec![2]);
    assert!(audio_report.out_dir.join("frames.npy").exists());
    assert!(
        !lyrics_report.out_dir.join("frames.npy").exists(),
        "a lyrics-only setting has no audio frames"
    );
    assert_eq!(
        audio_report.manifest.blocks[0].transform.kind(),
        ColumnTransform::Standard
    );
    assert_eq!(
        fused_report.manifest.blocks[0].transform.kind(),
        ColumnTransform::YeoJohnson
    );

    // Everything cached: nothing loads again. A new MFCC setting loads once more.
    let again = build_feature_sets(&descriptor, &builds, &BuildOptions::default()).expect("builds");
    assert_eq!(again.dataset_loads, 0);
    assert!(again.reports.iter().all(|report| report.reused));
    let mut more = builds.clone();
    let mut other_mfcc = small_settings();
    other_mfcc.mfcc.n_mfcc = 13;
    more.push(FeatureBuild {
        out_dir: directory.path().join("mfcc13"),
        settings: other_mfcc,
    });
    more.push(FeatureBuild {
        out_dir: directory.path().join("mfcc13-weighted"),
        settings: FeatureSettings {
            fusion: FusionConfig {
                lyrics_weight: 0.5,
                ..FusionConfig::default()
            },
            ..more[3].settings.clone()
        },
    });
    let more = build_feature_sets(&descriptor, &more, &BuildOptions::default()).expect("builds");
    assert_eq!(more.dataset_loads, 1);
    assert_eq!(more.reports[3].manifest.modality_dims, vec![26, 3]);
}

#[test]
fn a_feature_set_naming_a_missing_modality_is_an_error_naming_it() {
    let directory = tempfile::tempdir().expect("temp dir");
    let root = directory.path();
    std::fs::write(
        root.join("table.csv"),
        "id,tempo,label\na,1,x\nb,2,y\nc,3,x\n",
    )
    .expect("write");
    let descriptor = write_descriptor(
        root,
        r#"{"name": "table", "manifest": "table.csv", "id_column": "id",
            "audio": {"columns": "numeric"}, "labels": ["label"]}"#,
    );
    let build = FeatureBuild {
        out_dir: root.join("out"),
        settings: FeatureSettings {
            modalities: Some(vec![Modality::Lyrics]),
            ..small_settings()
        },
    };
    let message = build_feature_sets(&descriptor, &[build], &BuildOptions::default())
        .unwrap_err()
        .to_string();
    assert!(message.contains("has no lyrics modality"), "{message}");
}
