"""Read-out tables for people: readable headers, percentages, p-values in 3 significant digits.

The analysis frames keep raw fractions and machine names (``--json`` and tests use them);
the page shows these.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["lift_table", "p_text", "pairs_table"]


def lift_table(lifts: pd.DataFrame) -> pd.DataFrame:
    """Readable headers, lifts in percent, p-values in 3 significant digits."""
    pct = {
        "lift": "lift %",
        "ci_low": "CI low %",
        "ci_high": "CI high %",
        "seq_ci_low": "always-valid low %",
        "seq_ci_high": "always-valid high %",
    }
    p = {"p_value": "p", "p_holm": "Holm p", "seq_p_value": "always-valid p"}
    table = lifts.assign(**{c: (lifts[c] * 100).round(2) for c in pct})
    table = table.assign(**{c: lifts[c].map(p_text) for c in p})
    names = {
        "control_value": "control value",
        "variant_value": "variant value",
        "significant": "significant (Holm)",
        "cuped": "CUPED",
        **pct,
        **p,
    }
    columns = [
        "metric",
        "variant",
        "control_value",
        "variant_value",
        "lift",
        "ci_low",
        "ci_high",
        "p_value",
        "p_holm",
        "significant",
        "seq_p_value",
        "seq_ci_low",
        "seq_ci_high",
        "cuped",
    ]
    return table[columns].rename(columns=names)


def p_text(p: float) -> str:
    """A p-value in 3 significant digits; ``< 1e-16`` below double precision's resolution."""
    return "< 1e-16" if p < 1e-16 else f"{p:.3g}"


def pairs_table(pairs: pd.DataFrame) -> pd.DataFrame:
    """Offline-vs-online pairs with lifts and offline changes in percent."""
    pct = {
        "online_lift": "online lift %",
        "online_ci_low": "CI low %",
        "online_ci_high": "CI high %",
        "offline_delta": "offline change %",
    }
    names = {
        "control_run": "control run",
        "same_data": "same data version",
        "online_significant": "significant (Holm)",
        "offline_control": "offline control",
        "offline_variant": "offline variant",
        **pct,
    }
    columns = [
        "experiment",
        "variant",
        "run",
        "control_run",
        "same_data",
        *pct,
        "online_significant",
        "offline_control",
        "offline_variant",
    ]
    table = pairs.assign(**{c: (pairs[c] * 100).round(2) for c in pct})
    return table[columns].rename(columns=names)
