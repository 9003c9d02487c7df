"""SQLite under a long import, with real processes: readers go on, writers wait and say why.

One `recsys synth` process imports 3M interactions (its write transaction holds SQLite's one
write lock for ~10 s here, past the 10 s busy timeout that used to fail every other writer with
"database is locked"). Meanwhile other processes list runs and datasets, import a small file and
train a run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from db import Store
from recsys_core.data.samples import synthetic
from recsys_core.jobs.datasets import import_dataset, list_datasets

BIG = ["--users", "30000", "--items", "10000", "--interactions", "3000000", "--seed", "1"]
SMALL = ["--users", "50", "--items", "20", "--interactions", "500", "--seed", "2"]


def _recsys(db: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "recsys_core.cli", *args, "--db", db, "--json"]
    return subprocess.Popen(
        cmd, env=dict(os.environ, **env), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _done(proc: subprocess.Popen[bytes]) -> tuple[int, dict, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, json.loads(out or b"{}"), err.decode()


@pytest.mark.slow
def test_writers_wait_for_a_long_import_and_readers_never_fail(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'workbench.db'}"
    store = Store(db)
    import_dataset(store, "small", synthetic(60, 40, 900, seed=1))
    note = tmp_path / "workbench.db.writer"

    big = _recsys(db, "synth", *BIG, "--name", "big")
    end = time.monotonic() + 240
    while not note.exists():  # the import has parsed its data and now holds the write lock
        assert big.poll() is None and time.monotonic() < end, _done(big)
        time.sleep(0.1)
    assert "the import of 'big'" in note.read_text()

    runs = _recsys(db, "runs")
    datasets = _recsys(db, "datasets")
    small = _recsys(db, "synth", *SMALL, "--name", "small2")
    impatient = _recsys(db, "synth", *SMALL, "--name", "small3", RECSYS_SQLITE_WRITE_WAIT_S="1")
    train = _recsys(db, "train", "--dataset", "small", "--model", "most_popular", "--k", "5")

    code, listed, err = _done(runs)
    assert code == 0 and listed["runs"] == [], err
    code, listed, err = _done(datasets)
    assert code == 0, err
    assert [d["name"] for d in listed["datasets"]] == ["small"]  # the import is not visible yet
    assert big.poll() is None  # both reads answered while the import held the lock

    code, _, err = _done(impatient)
    assert code == 1
    assert "waited 1 s for the import of 'big'" in err and "Traceback" not in err

    code, imported, err = _done(small)
    assert code == 0, err
    assert "Waiting for the import of 'big'" in err
    code, trained, err = _done(train)
    assert code == 0 and trained["status"] == "done", err

    code, _, err = _done(big)
    assert code == 0, err
    assert not note.exists()  # the holder's note goes with its transaction
    names = {ds.name: versions[-1].n_interactions for ds, versions in list_datasets(store)}
    assert names == {"small": 900, "big": 3_000_000, "small2": imported["interactions"]}
    store.dispose()
