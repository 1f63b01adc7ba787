//! Dataset descriptor parsing: every source variant and every error.

use std::path::{Path, PathBuf};

use songvae_features::descriptor::{AudioSource, Descriptor, LyricsSource};
use songvae_features::error::Error;

fn parse(json: &str) -> Result<Descriptor, Error> {
    Descriptor::parse(json, Path::new("data/set/dataset.json"))
}

#[test]
fn every_audio_variant_parses() {
    let cases: [(&str, AudioSource); 5] = [
        (
            r#"{"files": "audio_path"}"#,
            AudioSource::Files {
                column: "audio_path".into(),
            },
        ),
        (
            r#"{"columns": ["a", "b"]}"#,
            AudioSource::Columns {
                columns: vec!["a".into(), "b".into()],
            },
        ),
        (
            r#"{"columns": "numeric"}"#,
            AudioSource::NumericColumns { exclude: vec![] },
        ),
        (
            r#"{"columns": "numeric", "exclude": ["length"]}"#,
            AudioSource::NumericColumns {
                exclude: vec!["length".into()],
            },
        ),
        (
            r#"{"npy": "features/{id}.npy"}"#,
            AudioSource::Npy {
                pattern: "features/{id}.npy".into(),
            },
        ),
    ];
    for (audio_json, expected) in cases {
        let json = format!(
            r#"{{"name": "n", "manifest": "m.csv", "id_column": "id", "audio": {audio_json}}}"#
        );
        let descriptor = parse(&json).unwrap_or_else(|error| panic!("{audio_json}: {error}"));
        assert_eq!(descriptor.audio, Some(expected), "{audio_json}");
        assert_eq!(descriptor.lyrics, None);
        assert!(descriptor.labels.is_empty());
    }
}

#[test]
fn every_lyrics_variant_and_frames_parse() {
    let cases: [(&str, LyricsSource); 3] = [
        (
            r#"{"text_column": "lyrics"}"#,
            LyricsSource::TextColumn {
                column: "lyrics".into(),
            },
        ),
        (
            r#"{"files": "lyrics_path"}"#,
            LyricsSource::Files {
                column: "lyrics_path".into(),
            },
        ),
        (
            r#"{"npy": "emb/{id}.npy"}"#,
            LyricsSource::Npy {
                pattern: "emb/{id}.npy".into(),
            },
        ),
    ];
    for (lyrics_json, expected) in cases {
        let json = format!(
            r#"{{"name": "n", "manifest": "m.jsonl", "id_column": "id", "frames": {{"npy": "f/{{id}}_frames.npy"}},
                "lyrics": {lyrics_json}, "labels": ["language", "category"]}}"#
        );
        let descriptor = parse(&json).unwrap_or_else(|error| panic!("{lyrics_json}: {error}"));
        assert_eq!(descriptor.lyrics, Some(expected));
        assert_eq!(descriptor.audio, None);
        assert_eq!(descriptor.frames_npy.as_deref(), Some("f/{id}_frames.npy"));
        assert_eq!(
            descriptor.labels,
            vec!["language".to_string(), "category".to_string()]
        );
    }
}

#[test]
fn paths_resolve_against_the_descriptor_directory() {
    let descriptor = parse(
        r#"{"name": "n", "manifest": "meta/m.csv", "id_column": "id", "audio": {"npy": "features/{id}.npy"}}"#,
    )
    .expect("valid descriptor");
    assert_eq!(descriptor.base_dir, PathBuf::from("data/set"));
    assert_eq!(
        descriptor.manifest_path(),
        PathBuf::from("data/set/meta/m.csv")
    );
    assert_eq!(
        descriptor.pattern_path("features/{id}.npy", "song 7"),
        PathBuf::from("data/set/features/song 7.npy")
    );
    assert_eq!(
        descriptor.resolve("a/b.wav"),
        PathBuf::from("data/set/a/b.wav")
    );
}

fn assert_errors(cases: &[(String, &str)]) {
    for (json, expected) in cases {
        match parse(json) {
            Ok(descriptor) => {
                panic!("{json}: parsed as {descriptor:?}, expected error containing {expected:?}")
            }
            Err(error) => {
                let message = error.to_string();
                assert!(
                    message.contains(expected),
                    "{json}: {message:?} does not contain {expected:?}"
                );
                assert!(
                    message.contains("data/set/dataset.json"),
                    "{message:?} does not name the file"
                );
            }
        }
    }
}

#[test]
fn every_error_names_the_problem() {
    let base = r#""name": "n", "manifest": "m.csv", "id_column": "id""#;
    let cases: Vec<(String, &str)> = vec![
        ("not json".to_string(), "not valid JSON"),
        ("[1, 2]".to_string(), "top level must be a JSON object"),
        (
            format!(r#"{{{base}, "audio": {{"files": "p"}}, "colour": 1}}"#),
            "unknown key `colour`",
        ),
        (
            format!(r#"{{{base}, "audio": {{"files": "p", "colums": ["a"]}}}}"#),
            "unknown key `audio.colums`",
        ),
        (
            format!(r#"{{{base}, "lyrics": {{"text": "l"}}}}"#),
            "unknown key `lyrics.text`",
        ),
        (
            format!(r#"{{{base}, "audio": {{"files": "p"}}, "frames": {{"files": "x"}}}}"#),
            "unknown key `frames.files`",
        ),
        (
            r#"{"manifest": "m.csv", "id_column": "id", "audio": {"files": "p"}}"#.to_string(),
            "missing required key `name`",
        ),
        (
            r#"{"name": "n", "id_column": "id", "audio": {"files": "p"}}"#.to_string(),
            "missing required key `manifest`",
        ),
        (
            r#"{"name": "n", "manifest": "m.csv", "audio": {"files": "p"}}"#.to_string(),
            "missing required key `id_column`",
        ),
        (
            r#"{"name": "", "manifest": "m.csv", "id_column": "id", "audio": {"files": "p"}}"#
                .to_string(),
            "key `name` must be a non-empty string",
        ),
        (format!("{{{base}}}"), "needs at least one modality"),
    ];
    assert_errors(&cases);
}

#[test]
fn every_source_error_names_the_key() {
    let base = r#""name": "n", "manifest": "m.csv", "id_column": "id""#;
    let cases: Vec<(String, &str)> = vec![
        (
            format!(r#"{{{base}, "audio": {{}}}}"#),
            "key `audio` needs one of",
        ),
        (
            format!(r#"{{{base}, "audio": {{"files": "p", "npy": "x/{{id}}.npy"}}}}"#),
            "give exactly one",
        ),
        (
            format!(r#"{{{base}, "audio": {{"columns": "all"}}}}"#),
            "key `audio.columns` must be a list",
        ),
        (
            format!(r#"{{{base}, "audio": {{"columns": []}}}}"#),
            "must list at least one column",
        ),
        (
            format!(r#"{{{base}, "audio": {{"columns": ["a", 3]}}}}"#),
            "key `audio.columns` must be a list of non-empty strings",
        ),
        (
            format!(r#"{{{base}, "audio": {{"columns": ["a"], "exclude": ["b"]}}}}"#),
            "key `audio.exclude` is only valid",
        ),
        (
            format!(r#"{{{base}, "audio": {{"files": "p", "exclude": ["b"]}}}}"#),
            "key `audio.exclude` is only valid",
        ),
        (
            format!(r#"{{{base}, "audio": {{"npy": "features/x.npy"}}}}"#),
            "key `audio.npy` must contain `{id}`",
        ),
        (
            format!(r#"{{{base}, "audio": "p"}}"#),
            "key `audio` must be a JSON object",
        ),
        (
            format!(r#"{{{base}, "audio": {{"files": ""}}}}"#),
            "key `audio.files` must be a non-empty column name",
        ),
        (
            format!(r#"{{{base}, "lyrics": {{"npy": "l.npy"}}}}"#),
            "key `lyrics.npy` must contain `{id}`",
        ),
        (
            format!(r#"{{{base}, "lyrics": {{"text_column": "l"}}, "labels": "genre"}}"#),
            "key `labels` must be a list",
        ),
        (
            format!(r#"{{{base}, "lyrics": {{"text_column": "l"}}, "labels": ["g", "g"]}}"#),
            "lists column `g` twice",
        ),
        (
            format!(r#"{{{base}, "lyrics": {{"text_column": "l"}}, "labels": ["id"]}}"#),
            "lists the id column",
        ),
    ];
    assert_errors(&cases);
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let error = Descriptor::load(Path::new("/nonexistent/dataset.json")).expect_err("no such file");
    assert!(
        error.to_string().contains("/nonexistent/dataset.json"),
        "{error}"
    );
}
