//! Manifest reading: RFC 4180 CSV with and without BOM, JSON Lines, and errors.

use std::path::Path;

use songvae_features::manifest::Manifest;

fn csv(bytes: &[u8]) -> Manifest {
    Manifest::parse_csv(bytes, Path::new("m.csv")).unwrap_or_else(|error| panic!("{error}"))
}

#[test]
fn csv_quoting_follows_rfc_4180() {
    let text = "id,lyrics,score\r\n\
                a,\"one, two\",1.5\r\n\
                b,\"line one\r\nline \"\"two\"\"\",-2\r\n\
                c,,\r\n";
    let manifest = csv(text.as_bytes());
    assert_eq!(manifest.columns, vec!["id", "lyrics", "score"]);
    assert_eq!(manifest.rows.len(), 3);
    assert_eq!(manifest.rows[0], vec!["a", "one, two", "1.5"]);
    assert_eq!(
        manifest.rows[1],
        vec!["b", "line one\r\nline \"two\"", "-2"]
    );
    assert_eq!(manifest.rows[2], vec!["c", "", ""]);
    // Lines where each row starts: the quoted newline makes row 3 start on line 5.
    assert_eq!(manifest.row_lines, vec![2, 3, 5]);
    assert!(manifest.is_numeric_column(2));
    assert!(!manifest.is_numeric_column(1));
    let unix = csv(b"id,a\nx,1\ny,\"2\n3\"\nz,4\n");
    assert_eq!(unix.row_lines, vec![2, 3, 5]);
}

#[test]
fn a_utf8_bom_is_dropped_and_other_scripts_survive() {
    let with_bom = "\u{FEFF}id,category\nx,রবীন্দ্র সংগীত\ny,Pop\n";
    let without_bom = "id,category\nx,রবীন্দ্র সংগীত\ny,Pop\n";
    let first = csv(with_bom.as_bytes());
    let second = csv(without_bom.as_bytes());
    assert_eq!(first.columns, vec!["id", "category"]);
    assert_eq!(first.rows, second.rows);
    assert_eq!(first.rows[0][1], "রবীন্দ্র সংগীত");
}

#[test]
fn invalid_utf8_cells_are_marked_not_fatal() {
    let mut bytes = b"id,lyrics\na,ok\nb,".to_vec();
    bytes.extend_from_slice(&[0xFF, 0xFE, b'x']);
    bytes.push(b'\n');
    let manifest = csv(&bytes);
    assert_eq!(manifest.rows.len(), 2);
    assert!(!manifest.is_invalid_utf8(0, 1));
    assert!(manifest.is_invalid_utf8(1, 1));
    assert!(!manifest.is_invalid_utf8(1, 0));
}

#[test]
fn json_lines_become_the_same_table() {
    let text = "\u{FEFF}{\"id\": \"a\", \"tempo\": 120, \"lyrics\": \"x\\ny\"}\n\
                \n\
                {\"id\": \"b\", \"tempo\": 98.5, \"flag\": true}\n\
                {\"lyrics\": null, \"id\": \"c\"}\n";
    let manifest = Manifest::parse_json_lines(text.as_bytes(), Path::new("m.jsonl"))
        .expect("valid JSON Lines");
    assert_eq!(manifest.columns, vec!["id", "lyrics", "tempo", "flag"]);
    assert_eq!(manifest.rows[0], vec!["a", "x\ny", "120", ""]);
    assert_eq!(manifest.rows[1], vec!["b", "", "98.5", "true"]);
    assert_eq!(manifest.rows[2], vec!["c", "", "", ""]);
    assert_eq!(manifest.row_lines, vec![1, 3, 4]);
    assert!(manifest.is_numeric_column(2));
}

#[test]
fn load_picks_the_format_by_extension() {
    let directory = tempfile::tempdir().expect("temp dir");
    let jsonl = directory.path().join("m.jsonl");
    std::fs::write(&jsonl, "{\"id\": \"a\"}\n").expect("write");
    let csv_path = directory.path().join("m.csv");
    std::fs::write(&csv_path, "id\na\n").expect("write");
    for path in [jsonl, csv_path] {
        let manifest = Manifest::load(&path).expect("loads");
        assert_eq!(manifest.columns, vec!["id"]);
        assert_eq!(manifest.rows, vec![vec!["a".to_string()]]);
    }
}

#[test]
fn malformed_manifests_name_the_line() {
    let csv_cases: [(&[u8], &str); 3] = [
        (
            b"id,a\nx,1\ny,1,2\n",
            "line 3: has 3 fields but the header has 2",
        ),
        (b"id,a,id\nx,1,2\n", "column `id` appears twice"),
        (b"", "the header row is empty"),
    ];
    for (bytes, expected) in csv_cases {
        let error = Manifest::parse_csv(bytes, Path::new("bad.csv")).expect_err("invalid CSV");
        let message = error.to_string();
        assert!(
            message.contains(expected) && message.contains("bad.csv"),
            "{message:?} lacks {expected:?}"
        );
    }
    let jsonl_cases: [(&str, &str); 3] = [
        ("{\"id\": 1}\n{oops\n", "line 2: not valid JSON"),
        ("[1, 2]\n", "line 1: expected a JSON object"),
        (
            "{\"id\": \"a\", \"tags\": [1]}\n",
            "line 1: key `tags` holds a nested array",
        ),
    ];
    for (text, expected) in jsonl_cases {
        let error = Manifest::parse_json_lines(text.as_bytes(), Path::new("bad.jsonl"))
            .expect_err("invalid JSON Lines");
        let message = error.to_string();
        assert!(
            message.contains(expected) && message.contains("bad.jsonl"),
            "{message:?} lacks {expected:?}"
        );
    }
}

#[test]
fn a_missing_column_lists_the_columns() {
    let manifest = csv(b"id,genre\na,rock\n");
    let error = manifest
        .column_index("language", "labels")
        .expect_err("absent");
    let message = error.to_string();
    assert!(
        message.contains("column `language` (from descriptor key `labels`)"),
        "{message}"
    );
    assert!(message.contains("id, genre"), "{message}");
}
