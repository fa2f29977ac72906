"""The few SQL expressions that differ between SQLite and PostgreSQL, written once for both."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Integer, String, cast, func, literal_column, type_coerce
from sqlalchemy.sql.elements import ColumnElement

# Ground truth in parts.ground_truth is written in simulation by cell_control.truth:
# {"verdict": "OK"|"NOK", "flaws": [...]}, the verdict being the true flaws graded by the acceptance rules
# (a flaw the rules accept does not make a part bad). Other writers may only say {"flawed": bool} or list
# the flaws (or count them); real parts hold nothing (NULL). Anything else reads as "unknown" (NULL)
# rather than failing the report. 1 means truly NOK.
_GT_SQLITE = """CASE
  WHEN json_type({c}, '$.verdict') = 'text' AND json_extract({c}, '$.verdict') = 'NOK' THEN 1
  WHEN json_type({c}, '$.verdict') = 'text' AND json_extract({c}, '$.verdict') = 'OK' THEN 0
  WHEN json_type({c}, '$.flawed') = 'true' THEN 1
  WHEN json_type({c}, '$.flawed') = 'false' THEN 0
  WHEN json_type({c}, '$.flaws') = 'array' THEN (json_array_length({c}, '$.flaws') > 0)
  WHEN json_type({c}, '$.flaws') IN ('integer', 'real') THEN (json_extract({c}, '$.flaws') > 0)
  ELSE NULL END"""

_GT_POSTGRES = """CASE
  WHEN json_typeof({c}) IS DISTINCT FROM 'object' THEN NULL
  WHEN json_typeof({c} -> 'verdict') = 'string' AND ({c} ->> 'verdict') = 'NOK' THEN 1
  WHEN json_typeof({c} -> 'verdict') = 'string' AND ({c} ->> 'verdict') = 'OK' THEN 0
  WHEN json_typeof({c} -> 'flawed') = 'boolean' THEN CASE WHEN ({c} ->> 'flawed') = 'true' THEN 1 ELSE 0 END
  WHEN json_typeof({c} -> 'flaws') = 'array' THEN CASE WHEN json_array_length({c} -> 'flaws') > 0 THEN 1 ELSE 0 END
  WHEN json_typeof({c} -> 'flaws') = 'number' THEN CASE WHEN ({c} ->> 'flaws')::float > 0 THEN 1 ELSE 0 END
  ELSE NULL END"""


def gt_flawed(column_sql: str, dialect: str) -> ColumnElement[Any]:
    """1 / 0 / NULL: whether the part is truly NOK, read defensively from the ground-truth JSON."""
    template = _GT_POSTGRES if dialect == "postgresql" else _GT_SQLITE
    return cast(literal_column(template.format(c=column_sql)), Integer)


def epoch_s(col: Any, dialect: str) -> ColumnElement[float]:
    """Seconds since 1970 of a stored UTC datetime."""
    if dialect == "postgresql":
        return cast(func.extract("epoch", col), Float)
    return cast((func.julianday(col) - 2440587.5) * 86400.0, Float)


def floor_int(expr: Any, dialect: str) -> ColumnElement[int]:
    """Floor of a non-negative number as an integer (PostgreSQL's CAST rounds, SQLite's truncates)."""
    if dialect == "postgresql":
        return cast(func.floor(expr), Integer)
    return cast(expr, Integer)


def iso_text(col: Any, dialect: str) -> ColumnElement[str]:
    """A stored UTC datetime as ISO 8601 text ('' when NULL), formatted by the database so that a million
    rows never become Python datetimes on their way to a CSV file."""
    text: ColumnElement[Any]
    if dialect == "postgresql":
        text = func.to_char(func.timezone("UTC", col), 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
    else:
        # SQLAlchemy stores 'YYYY-MM-DD HH:MM:SS.ffffff' in SQLite, always UTC in this store.
        text = func.replace(type_coerce(col, String), " ", "T") + "+00:00"
    return type_coerce(func.coalesce(text, ""), String)
