"""Import widgets: an upload read whatever its extension, and every column with name and role.

The uploader takes any file (u.item, ratings.dat, no extension): the reader sniffs the
content. The analyst can correct the detected delimiter, header and encoding, rename every
column and change its role; the proposal comes from a known layout or from inference.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from recsys_core.data.io import RawTable, parse_delimiter, read_table
from recsys_core.data.layouts import recognise
from recsys_core.data.roles import ROLE_HELP, Proposal
from recsys_core.errors import InputError

DETECTED = "detected"
_DELIMITERS = {
    DETECTED: None, "comma ,": ",", "semicolon ;": ";", "tab": "\t", "pipe |": "|",
    ":: (MovieLens 1M)": "::", "space": " ", "other…": "other",
}  # fmt: skip
_HEADER = {DETECTED: None, "yes": True, "no": False}
_ENCODINGS = (DETECTED, "UTF-8", "UTF-16", "Windows-1252", "Latin-1")
_PER_ROW = 6
#: Columns shown with a name box and a role picker; wider files keep the rest as proposed.
MAX_GRID = 60
_SHOWN_EXAMPLES = 3


@dataclass(frozen=True)
class Upload:
    """A file as read, and the widget key prefix tied to this very upload and format."""

    raw: RawTable
    key: str


@st.cache_data(show_spinner="Reading the file…", max_entries=8)
def _read(
    data: bytes, name: str, delimiter: str | None, header: bool | None, encoding: str | None
) -> RawTable:
    return read_table(data, name, delimiter=delimiter, header=header, encoding=encoding)


def upload(label: str, key: str) -> Upload | None:
    """An uploader for any file, the format's corrections, and the first rows as read."""
    file = st.file_uploader(label, type=None, key=key)
    if file is None:
        return None
    with st.expander(f"File format of {file.name} (detected; change it if it is wrong)"):
        c1, c2, c3 = st.columns(3)
        delim = c1.selectbox("Delimiter", list(_DELIMITERS), key=f"{key}_delim")
        other = c1.text_input("Other delimiter (one character)", key=f"{key}_other", max_chars=2)
        header = c2.radio("Header row", list(_HEADER), horizontal=True, key=f"{key}_header")
        encoding = c3.selectbox("Encoding", _ENCODINGS, key=f"{key}_enc")
    try:
        chosen = _DELIMITERS[delim]
        delimiter = parse_delimiter(other) if chosen == "other" and other else chosen
        delimiter = None if delimiter == "other" else delimiter
        enc = None if encoding == DETECTED else encoding
        raw = _read(file.getvalue(), file.name, delimiter, _HEADER[header], enc)
    except InputError as exc:
        st.error(str(exc))
        return None
    layout = recognise(raw)
    known = f" — recognised: {layout.label}" if layout else ""
    st.caption(f"Detected: {raw.fmt.describe()} — {len(raw.frame):,} rows{known}")
    head = raw.frame.head(5)
    if layout is not None and layout.names:  # the first rows under the names they will get
        head = head.set_axis(list(layout.names), axis=1)
    st.dataframe(head, hide_index=True)
    return Upload(raw, f"{key}_{file.file_id}_{delim}_{other}_{header}_{encoding}")


def column_grid(
    up: Upload, proposal: Proposal, roles: tuple[str, ...], heading: str
) -> tuple[list[str], list[str]]:
    """A name box and a role picker for every column (six a row); returns names and roles."""
    if proposal.layout is not None:
        st.caption(f"Recognised: **{proposal.layout.label}** — names and roles set from it.")
    help_text = "  \n".join(f"**{r}**: {ROLE_HELP.get(r, r)}" for r in roles)
    names: list[str] = []
    chosen: list[str] = []
    frame = up.raw.frame
    shown = min(len(proposal.names), MAX_GRID)
    for start in range(0, shown, _PER_ROW):
        cells = st.columns(_PER_ROW)
        for j in range(start, min(start + _PER_ROW, shown)):
            with cells[j - start]:
                names.append(
                    st.text_input(
                        f"{heading} column {j + 1}", proposal.names[j], key=f"{up.key}_n{j}"
                    )
                )
                role = proposal.roles[j] if proposal.roles[j] in roles else "ignore"
                chosen.append(
                    st.selectbox(
                        f"Role of {heading.lower()} column {j + 1}",
                        roles,
                        index=roles.index(role) if role in roles else 0,
                        key=f"{up.key}_r{j}",
                        help=help_text,
                        label_visibility="collapsed",  # under its name box; aria-label kept
                    )
                )
                st.caption(_examples(frame.iloc[:, j]))
    if shown < len(proposal.names):  # thousands of widgets would make the page unusable
        st.caption(
            f"Columns {shown + 1:,} to {len(proposal.names):,} keep the names and roles shown "
            "by inference; to change them, use the command line (recsys import --role)."
        )
    return names + proposal.names[shown:], chosen + proposal.roles[shown:]


def _examples(column: object) -> str:
    values = column.dropna().astype(str).head(50).unique()[:_SHOWN_EXAMPLES]  # type: ignore[attr-defined]
    short = (v if len(v) <= 20 else v[:19] + "…" for v in values)
    shown = ", ".join(v.replace("://", ":\u200b//") for v in short)  # no Markdown autolinks
    return f"e.g. {shown}" if shown else "(empty)"
