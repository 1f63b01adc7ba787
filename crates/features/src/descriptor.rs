//! Dataset descriptors: the one way a dataset is named.
//!
//! A `dataset.json` says where the manifest is, which column holds the track
//! id, where each modality comes from and which columns are ground-truth
//! labels. Paths inside it are relative to the descriptor file.
//!
//! ```json
//! {
//!   "name": "multilingual-152",
//!   "manifest": "metadata.csv",
//!   "id_column": "id",
//!   "audio":  { "files": "audio_path" },
//!   "frames": { "npy": "features/{id}_mfccframes.npy" },
//!   "lyrics": { "text_column": "lyrics" },
//!   "labels": ["language", "category"]
//! }
//! ```
//!
//! | key | required | value |
//! |---|---|---|
//! | `name` | yes | a non-empty string |
//! | `manifest` | yes | CSV (header row) or JSON Lines (`.jsonl`, `.ndjson`) path |
//! | `id_column` | yes | the manifest column with unique track ids |
//! | `audio` | one of `audio`/`lyrics` | `{"files": C}`, `{"columns": [..]}`, `{"columns": "numeric", "exclude": [..]}` or `{"npy": PATTERN}` |
//! | `frames` | no | `{"npy": PATTERN}`: per-track 2-D (channels x time) array |
//! | `lyrics` | one of `audio`/`lyrics` | `{"text_column": C}`, `{"files": C}` or `{"npy": PATTERN}` |
//! | `labels` | no | list of label columns; the first is primary |
//!
//! A `PATTERN` is a path with `{id}` replaced by the track id. The parser is
//! written by hand over `serde_json::Value` rather than derived so that every
//! error names the exact key (`audio.colums`), which an untagged serde enum
//! cannot do.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Where the audio modality of each track comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioSource {
    /// A manifest column of audio file paths, decoded and turned into MFCC summaries.
    Files {
        /// The column holding the paths (relative to the descriptor).
        column: String,
    },
    /// Named numeric manifest columns, used as precomputed features.
    Columns {
        /// The columns, in feature order.
        columns: Vec<String>,
    },
    /// Every numeric manifest column except the id, the labels and `exclude`.
    NumericColumns {
        /// Numeric columns left out on purpose.
        exclude: Vec<String>,
    },
    /// One 1-D `.npy` vector per track.
    Npy {
        /// The path pattern with `{id}`.
        pattern: String,
    },
}

/// Where the lyrics modality of each track comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LyricsSource {
    /// The lyrics text is in a manifest column.
    TextColumn {
        /// The column holding the text.
        column: String,
    },
    /// A manifest column of UTF-8 text file paths.
    Files {
        /// The column holding the paths (relative to the descriptor).
        column: String,
    },
    /// One 1-D `.npy` embedding per track (for example from a sentence encoder).
    Npy {
        /// The path pattern with `{id}`.
        pattern: String,
    },
}

/// A parsed and checked `dataset.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// The descriptor file itself.
    pub path: PathBuf,
    /// The directory that relative paths are resolved against.
    pub base_dir: PathBuf,
    /// A short human-readable dataset name.
    pub name: String,
    /// The manifest path, relative to `base_dir`.
    pub manifest: String,
    /// The manifest column holding the track id.
    pub id_column: String,
    /// The audio modality, when the dataset has one.
    pub audio: Option<AudioSource>,
    /// Per-track frame matrices (channels x time), when given as `.npy`.
    pub frames_npy: Option<String>,
    /// The lyrics modality, when the dataset has one.
    pub lyrics: Option<LyricsSource>,
    /// Ground-truth label columns; the first is primary.
    pub labels: Vec<String>,
}

impl Descriptor {
    /// Reads and parses a descriptor file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            cause: source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses descriptor JSON text; `path` is used for errors and to resolve
    /// relative paths (its parent directory).
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let invalid = |reason: String| Error::Descriptor {
            path: path.to_path_buf(),
            reason,
        };
        let value: Value = serde_json::from_str(text)
            .map_err(|error| invalid(format!("not valid JSON: {error}")))?;
        let Value::Object(top) = value else {
            return Err(invalid("the top level must be a JSON object".to_string()));
        };
        check_keys(
            &top,
            "",
            &[
                "name",
                "manifest",
                "id_column",
                "audio",
                "frames",
                "lyrics",
                "labels",
            ],
        )
        .map_err(&invalid)?;

        let name = required_string(&top, "name").map_err(&invalid)?;
        let manifest = required_string(&top, "manifest").map_err(&invalid)?;
        let id_column = required_string(&top, "id_column").map_err(&invalid)?;

        let audio = match top.get("audio") {
            None => None,
            Some(value) => Some(parse_audio(value).map_err(&invalid)?),
        };
        let frames_npy = match top.get("frames") {
            None => None,
            Some(value) => {
                let object = as_object(value, "frames").map_err(&invalid)?;
                check_keys(object, "frames", &["npy"]).map_err(&invalid)?;
                Some(pattern_value(object, "frames", "npy").map_err(&invalid)?)
            }
        };
        let lyrics = match top.get("lyrics") {
            None => None,
            Some(value) => Some(parse_lyrics(value).map_err(&invalid)?),
        };
        let labels = match top.get("labels") {
            None => Vec::new(),
            Some(value) => string_list(value, "labels").map_err(&invalid)?,
        };
        if audio.is_none() && lyrics.is_none() {
            return Err(invalid(
                "needs at least one modality: key `audio` or `lyrics`".to_string(),
            ));
        }
        for (index, label) in labels.iter().enumerate() {
            if labels[..index].contains(label) {
                return Err(invalid(format!(
                    "key `labels` lists column `{label}` twice"
                )));
            }
            if *label == id_column {
                return Err(invalid(format!(
                    "key `labels` lists the id column `{label}`"
                )));
            }
        }

        let base_dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Ok(Self {
            path: path.to_path_buf(),
            base_dir,
            name,
            manifest,
            id_column,
            audio,
            frames_npy,
            lyrics,
            labels,
        })
    }

    /// The manifest path resolved against the descriptor's directory.
    #[must_use]
    pub fn manifest_path(&self) -> PathBuf {
        self.base_dir.join(&self.manifest)
    }

    /// Resolves a path found in the manifest or a pattern against the
    /// descriptor's directory (absolute paths stay as they are).
    #[must_use]
    pub fn resolve(&self, relative: &str) -> PathBuf {
        self.base_dir.join(relative)
    }

    /// Substitutes a track id into a `{id}` pattern and resolves the result.
    #[must_use]
    pub fn pattern_path(&self, pattern: &str, id: &str) -> PathBuf {
        self.base_dir.join(pattern.replace("{id}", id))
    }
}

fn check_keys(
    object: &Map<String, Value>,
    context: &str,
    allowed: &[&str],
) -> std::result::Result<(), String> {
    for key in object.keys() {
        if !allowed.contains(&key.as_str()) {
            let full_key = if context.is_empty() {
                key.clone()
            } else {
                format!("{context}.{key}")
            };
            return Err(format!(
                "unknown key `{full_key}` (allowed here: {})",
                allowed.join(", ")
            ));
        }
    }
    Ok(())
}

fn required_string(object: &Map<String, Value>, key: &str) -> std::result::Result<String, String> {
    match object.get(key) {
        None => Err(format!("missing required key `{key}`")),
        Some(Value::String(text)) if !text.is_empty() => Ok(text.clone()),
        Some(_) => Err(format!("key `{key}` must be a non-empty string")),
    }
}

fn as_object<'a>(
    value: &'a Value,
    key: &str,
) -> std::result::Result<&'a Map<String, Value>, String> {
    match value {
        Value::Object(object) => Ok(object),
        _ => Err(format!("key `{key}` must be a JSON object")),
    }
}

fn string_list(value: &Value, key: &str) -> std::result::Result<Vec<String>, String> {
    let Value::Array(items) = value else {
        return Err(format!("key `{key}` must be a list of strings"));
    };
    let mut strings = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::String(text) if !text.is_empty() => strings.push(text.clone()),
            _ => return Err(format!("key `{key}` must be a list of non-empty strings")),
        }
    }
    Ok(strings)
}

fn pattern_value(
    object: &Map<String, Value>,
    context: &str,
    key: &str,
) -> std::result::Result<String, String> {
    let pattern = required_string(object, key)
        .map_err(|_| format!("key `{context}.{key}` must be a non-empty string"))?;
    if !pattern.contains("{id}") {
        return Err(format!(
            "key `{context}.{key}` must contain `{{id}}`, got `{pattern}`"
        ));
    }
    Ok(pattern)
}

fn exactly_one_of<'a>(
    object: &'a Map<String, Value>,
    context: &str,
    choices: &[&'a str],
) -> std::result::Result<&'a str, String> {
    let mut present = Vec::new();
    for choice in choices {
        if object.contains_key(*choice) {
            present.push(*choice);
        }
    }
    match present.as_slice() {
        [one] => Ok(one),
        [] => Err(format!(
            "key `{context}` needs one of: {}",
            choices.join(", ")
        )),
        _ => Err(format!(
            "key `{context}` has both `{}` and `{}`; give exactly one",
            present[0], present[1]
        )),
    }
}

fn parse_audio(value: &Value) -> std::result::Result<AudioSource, String> {
    let object = as_object(value, "audio")?;
    check_keys(object, "audio", &["files", "columns", "exclude", "npy"])?;
    let kind = exactly_one_of(object, "audio", &["files", "columns", "npy"])?;
    if kind != "columns" && object.contains_key("exclude") {
        return Err(
            "key `audio.exclude` is only valid with `\"columns\": \"numeric\"`".to_string(),
        );
    }
    match kind {
        "files" => {
            let column = required_string(object, "files")
                .map_err(|_| "key `audio.files` must be a non-empty column name".to_string())?;
            Ok(AudioSource::Files { column })
        }
        "npy" => Ok(AudioSource::Npy {
            pattern: pattern_value(object, "audio", "npy")?,
        }),
        _ => match &object["columns"] {
            Value::String(text) if text == "numeric" => {
                let exclude = match object.get("exclude") {
                    None => Vec::new(),
                    Some(value) => string_list(value, "audio.exclude")?,
                };
                Ok(AudioSource::NumericColumns { exclude })
            }
            Value::Array(_) => {
                if object.contains_key("exclude") {
                    return Err(
                        "key `audio.exclude` is only valid with `\"columns\": \"numeric\"`"
                            .to_string(),
                    );
                }
                let columns = string_list(&object["columns"], "audio.columns")?;
                if columns.is_empty() {
                    return Err("key `audio.columns` must list at least one column".to_string());
                }
                Ok(AudioSource::Columns { columns })
            }
            _ => Err(
                "key `audio.columns` must be a list of column names or the string \"numeric\""
                    .to_string(),
            ),
        },
    }
}

fn parse_lyrics(value: &Value) -> std::result::Result<LyricsSource, String> {
    let object = as_object(value, "lyrics")?;
    check_keys(object, "lyrics", &["text_column", "files", "npy"])?;
    let kind = exactly_one_of(object, "lyrics", &["text_column", "files", "npy"])?;
    match kind {
        "text_column" => Ok(LyricsSource::TextColumn {
            column: required_string(object, "text_column").map_err(|_| {
                "key `lyrics.text_column` must be a non-empty column name".to_string()
            })?,
        }),
        "files" => Ok(LyricsSource::Files {
            column: required_string(object, "files")
                .map_err(|_| "key `lyrics.files` must be a non-empty column name".to_string())?,
        }),
        _ => Ok(LyricsSource::Npy {
            pattern: pattern_value(object, "lyrics", "npy")?,
        }),
    }
}
