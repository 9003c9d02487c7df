"""``python -m recsys_core.cli``: how the app starts its background worker process."""

from recsys_core.cli import main

raise SystemExit(main())
