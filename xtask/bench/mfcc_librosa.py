"""librosa side of `cargo xtask bench features`.

Times `librosa.feature.mfcc(y=librosa.load(path)[0], sr=22050)` over the
first TIMED files, `repeats` times after one untimed pass over every file
(imports, numba and FFT caches), and saves every file's MFCC for the parity
check.

    python mfcc_librosa.py OUT_DIR REPEATS TIMED FILE...

Writes OUT_DIR/timings.json ({"librosa": version, "seconds": [one total per
repeat]}) and OUT_DIR/<index>.npy (float32, n_mfcc x frames) per file. The
caller pins the process to one core and sets the BLAS/OpenMP/numba thread
variables to 1.
"""

import json
import pathlib
import sys
import time

import librosa
import numpy as np


def extract(path: str) -> np.ndarray:
    y, sr = librosa.load(path)
    return librosa.feature.mfcc(y=y, sr=sr)


def main() -> None:
    out_dir = pathlib.Path(sys.argv[1])
    repeats = int(sys.argv[2])
    timed = int(sys.argv[3])
    files = sys.argv[4:]
    for index, path in enumerate(files):
        np.save(out_dir / f"{index}.npy", extract(path).astype(np.float32))
    totals = []
    for _ in range(repeats):
        start = time.perf_counter()
        for path in files[:timed]:
            extract(path)
        totals.append(time.perf_counter() - start)
    timings = {"librosa": librosa.__version__, "seconds": totals}
    (out_dir / "timings.json").write_text(json.dumps(timings) + "\n")


if __name__ == "__main__":
    main()
