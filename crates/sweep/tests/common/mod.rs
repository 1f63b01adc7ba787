//! Helpers shared by the sweep crate's integration tests.

use std::path::Path;

/// Compares `actual` with the stored file line by line, naming the first
/// line that differs. `SONGVAE_UPDATE_SNAPSHOTS=1` rewrites the file first
/// (after an intended change; review the diff).
pub fn assert_snapshot(path: &Path, actual: &str) {
    if std::env::var_os("SONGVAE_UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().expect("snapshot directory")).expect("create");
        std::fs::write(path, actual).expect("write snapshot");
    }
    let expected =
        std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    for (index, (ours, stored)) in actual.lines().zip(expected.lines()).enumerate() {
        assert_eq!(
            ours,
            stored,
            "{} line {} differs (rewrite with SONGVAE_UPDATE_SNAPSHOTS=1 if intended)",
            path.display(),
            index + 1
        );
    }
    assert_eq!(
        actual.lines().count(),
        expected.lines().count(),
        "{}",
        path.display()
    );
}
