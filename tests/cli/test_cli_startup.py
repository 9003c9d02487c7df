"""The CLI starts at once: building the parser imports no science stack.

Checked by what a fresh interpreter has imported, not by a timer (timed assertions flake on
a busy machine). `recsys --help` and a bad flag must not pay for scipy.stats, scikit-learn,
pandas, SQLAlchemy or the model families; handlers import what they use.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "scipy",
    "scipy.stats",
    "sklearn",
    "pandas",
    "numpy",
    "sqlalchemy",
    "db",
    "tensorflow",
    "optuna",
    "recsys_core.models",
    "recsys_core.evaluation",
    "recsys_core.jobs",
    "recsys_core.explain",
)


def _imported_after(code: str) -> set[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "code",
    [
        "import recsys_core.cli",
        "import recsys_core.cli as c; c.build_parser()",
        "import recsys_core.cli as c\ntry:\n    c.build_parser().parse_args(['--help'])\n"
        "except SystemExit:\n    pass",
        "import recsys_core.cli as c; c.main(['train', '--no-such-flag'])",
    ],
    ids=["import", "build_parser", "help", "bad-flag"],
)
def test_cli_start_imports_no_heavy_module(code: str) -> None:
    loaded = _imported_after(code)
    assert not [m for m in HEAVY if m in loaded]


def test_the_probe_sees_heavy_imports_when_a_handler_runs() -> None:
    """The check above can fail: importing a handler's modules does show up in the probe."""
    loaded = _imported_after("import recsys_core.jobs.analysis")
    assert {"scipy.stats", "pandas", "db"} <= loaded


def test_listing_runs_loads_no_science_stack(tmp_path) -> None:
    """`recsys runs` needs the store and the typed summary, not pandas, scipy or the models."""
    from db import Store
    from recsys_core.data.samples import synthetic
    from recsys_core.jobs import runs as jobs
    from recsys_core.jobs.datasets import import_dataset

    url = f"sqlite:///{tmp_path / 'w.db'}"
    store = Store(url)
    import_dataset(store, "s", synthetic(40, 20, 400, seed=1))
    assert jobs.train(store, jobs.parse_spec({"dataset": "s", "model": "most_popular"})).id
    store.dispose()
    code = f"import recsys_core.cli as c\nassert c.main(['runs', '--db', {url!r}]) == 0"
    loaded = _imported_after(code)
    assert "sqlalchemy" in loaded and "recsys_core.jobs.summary" in loaded
    assert not [m for m in ("pandas", "scipy", "sklearn", "recsys_core.models") if m in loaded]
