"""Numbers, labels and small frame helpers for the report's text and tables."""

from __future__ import annotations

from typing import Any

import pandas as pd


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def fmt_int(value: Any) -> str:
    """1234567 -> '1,234,567'."""
    return "–" if is_missing(value) else f"{round(float(value)):,}"


def fmt_amount(value: Any, decimals: int = 0) -> str:
    """Money with thousands separators: 1234567.891 -> '1,234,568'."""
    return "–" if is_missing(value) else f"{float(value):,.{decimals}f}"


def fmt_compact(value: Any) -> str:
    """Large amounts in prose and on bars: 21979580633 -> '22.0 bn', 68891733 -> '68.9 M'."""
    if is_missing(value):
        return "–"
    number = float(value)
    size = abs(number)
    if size >= 1e9:
        return f"{number / 1e9:,.1f} bn"
    if size >= 1e6:
        return f"{number / 1e6:,.1f} M"
    if size >= 1e4:
        return f"{number / 1e3:,.1f} k"
    return f"{number:,.0f}"


def fmt_pct(value: Any, signed: bool = False) -> str:
    """A fraction as a percent with 1 decimal: 0.1645 -> '16.4%'."""
    if is_missing(value):
        return "–"
    number = round(float(value) * 100, 1) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{number:+,.1f}%" if signed else f"{number:,.1f}%"


def fmt_hour(hour: Any) -> str:
    return "–" if is_missing(hour) else f"{int(hour) % 24:02d}:00"


def fmt_window(opening: int, closing: int) -> str:
    return f"{fmt_hour(opening)}–{'24:00' if closing in (0, 24) else fmt_hour(closing)}"


def city_label(city_id: Any) -> str:
    if is_missing(city_id) or int(city_id) == -1:
        return "Unknown city"
    return f"City {int(city_id)}"


def state_label(state_id: Any) -> str:
    if is_missing(state_id) or int(state_id) == -1:
        return "Unknown state"
    return f"State {int(state_id)}"


def category_label(category: Any) -> str:
    if is_missing(category):
        return "Unknown category"
    text = str(category)
    return text if " " in text else f"Category {text}"


def merchant_label(merchant_id: Any, merchant_name: Any, width: int | None = None) -> str:
    """The resolved name; the id when the name is the id (unresolved); null id -> unknown."""
    if is_missing(merchant_id):
        label = "Unknown merchant" if is_missing(merchant_name) else str(merchant_name)
    elif is_missing(merchant_name) or str(merchant_name) == str(merchant_id):
        label = str(merchant_id)
    else:
        label = str(merchant_name)
    if width and len(label) > width:
        label = label[: width - 1] + "…"
    return label


def plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else (plural or word + 's')}"


def as_bool(series: pd.Series) -> pd.Series:
    text = series.astype("string").str.strip().str.lower()
    return text.isin(["true", "1", "yes", "y", "t"]).fillna(False).astype(bool)


def numeric(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    frame = frame.copy()
    for column in columns:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def extreme_row(frame: pd.DataFrame, column: str, mart: str, largest: bool = True) -> pd.Series:
    """The row with the largest (or smallest) value of a numeric column. A column
    with no number at all (empty or text cells, coerced to NaN by _num) is a
    mart the section cannot read: say which mart and column, rather than let
    pandas pick a row from nothing."""
    values = frame[column]
    if not values.notna().any():
        raise ValueError(f"mart `{mart}` has no numeric value in column `{column}` "
                         f"({len(values)} row(s), all empty or not a number)")
    return frame.loc[values.idxmax() if largest else values.idxmin()]

