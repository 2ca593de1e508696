"""Synthetic Billups input files with the statistical shape of the real ones.

The real files cannot be shipped, so this module writes look-alikes that follow
``shared/DATA_PROFILE.md`` (skewed merchants, heavy cities, category as a function of
installments, monthly and hourly volume profiles, ...) and, on request, plants data
problems with exact, known counts so that the cleaning layer can be tested against
hard numbers.

Everything is vectorised with numpy and pyarrow: row-level columns are drawn as arrays,
string columns are built by taking from small pools of strings (ids, names, letters)
or from fixed-width byte matrices (timestamps). One ``numpy.random.Generator`` drives
every draw, in a fixed order, so a given ``(rows, seed, dirty)`` always yields
byte-identical files.

Public API: :func:`generate` and :data:`FULL_ROWS`; :func:`parseable_dates` and
:func:`exact_duplicate_extra_rows` are the rules behind the manifest counts, exposed for
the data-quality checks. The module-level constants (``TRANSACTIONS_SCHEMA``,
``MERCHANT_COLUMNS``, ``TRANSACTION_DEFECTS``, ``UNPARSEABLE_DATES``, ...) describe the
output contract.

Timestamps are checked the way Spark's ``to_timestamp(s, 'yyyy-MM-dd HH:mm:ss')``
(CORRECTED parser) reads them: calendar-impossible days (Feb 30) and second 60 are not
dates, although Python's ``strptime``/pandas accept second 60.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

__all__ = [
    "FULL_ROWS",
    "GENERATOR_VERSION",
    "MIN_ROWS",
    "exact_duplicate_extra_rows",
    "generate",
    "parseable_dates",
]

# --------------------------------------------------------------------------------------
# Profile of the real files (DATA_PROFILE.md). Full-scale figures; scaled by rows.
# --------------------------------------------------------------------------------------

FULL_ROWS = 7_274_367
GENERATOR_VERSION = 1
#: Below this the profile (50+ merchants, every planted defect >= 3) stops making sense.
MIN_ROWS = 1_000

TRANSACTIONS_FILE = "historical_transactions.parquet"
MERCHANTS_FILE = "merchants.csv"
MANIFEST_FILE = "manifest.json"
ROW_GROUP_SIZE = 1_000_000

FULL_TRANSACTING_MERCHANTS = 270_189
FULL_IDLE_MERCHANTS = 334_633 - 270_189  # listed in merchants.csv, never transact
FULL_NULL_MERCHANT_ROWS = 34_570
FULL_CUSTOMERS = 325_000
FULL_REPEATED_IDS = 41
FULL_REPEAT_EXTRA_ROWS = 63
MIN_MERCHANTS = 50
MIN_CUSTOMERS = 20

#: Rows of the ten busiest merchants; after them the tail follows a power law.
TOP_MERCHANT_ROWS = (279_377, 106_946, 90_106, 45_912, 44_075, 42_506, 27_524, 26_594,
                     24_320, 23_200)  # fmt: skip
TAIL_ROWS_AT_15 = 18_500
#: Top merchants sell everywhere (Q1: the busiest one leads city 1 with ~2k sales a
#: month out of ~20k); ordinary merchants sell almost only in their home city, so
#: merchant x state pairs stay near the real ~286.5k (Q2 rows; 302k generated).
HOME_CITY_SHARE = 0.995
#: ... except that the busiest one is registered in the odd city and makes ~20% of its
#: sales there (Q1 anchor: ~2,076 of its Jan 2017 sales).
BUSIEST_HOME_SHARE = 0.12

N_CITIES = 307
MAX_CITY_ID = 347
HEAVY_CITY_ROWS = {69: 1_207_966, 1: 645_719, 19: 287_854, 158: 278_662, 17: 242_567}
ODD_CITY = 1  # the source's unknown city, recoded: mostly B, often denied, state -1
HEAVY_CITY_STATE = {69: 9, 19: 9, 158: 16, 17: 15}
N_STATES = 24  # states 1..24, plus -1 = unknown
STATE_9_TAIL_SHARE = 0.27  # brings state 9 to about one third of the rows
ODD_CITY_UNKNOWN_STATE = 1.0
#: A city's rows sit in its state; a rare stray keeps "mostly one state" honest
#: without giving every merchant extra (merchant, state) pairs.
HOME_STATE_SHARE = 0.998
STRAY_UNKNOWN_STATE = 0.0020  # with the odd city (all -1), gives state -1 on ~9.1% of rows

#: 2017-01 .. 2018-02.
MONTH_ROWS = (286_541, 300_968, 361_161, 378_075, 397_974, 418_867, 503_313, 544_031,
              577_682, 627_410, 706_032, 852_200, 713_701, 606_412)  # fmt: skip
FIRST_DAY = np.datetime64("2017-01-01", "D")
END_DAY = np.datetime64("2018-03-01", "D")  # exclusive
LAST_TIMESTAMP = "2018-02-28 23:59:59"
#: Monday .. Sunday: volume builds over the week and drops on Sunday.
WEEKDAY_WEIGHT = (0.92, 0.96, 1.00, 1.04, 1.10, 1.14, 0.84)

#: Share of rows per hour 00..23, all categories.
HOUR_SHARE = (2.1, 1.0, 0.5, 0.3, 0.3, 0.4, 1.0, 2.3, 3.8, 4.5, 5.7, 6.6, 7.3, 7.4, 7.0,
              6.9, 7.0, 7.1, 6.7, 6.2, 5.3, 4.2, 3.7, 2.7)  # fmt: skip
#: Category C (installment plans) peaks later in the day, at 15-17 h.
HOUR_SHARE_C = (1.2, 0.6, 0.3, 0.2, 0.2, 0.3, 0.6, 1.3, 2.4, 3.4, 4.5, 5.4, 6.2, 6.8, 7.4,
                8.0, 8.3, 8.4, 7.6, 6.6, 5.2, 4.3, 3.6, 2.8)  # fmt: skip
#: Date-only source values become exact midnight; they sit mostly on null-category rows.
MIDNIGHT_SHARE_NULL_CATEGORY = 0.24
MIDNIGHT_SHARE_OTHER = 0.0005

#: Installment counts; category is a function of them: 0 -> A, 1 -> B/null, >= 2 -> C.
INSTALLMENT_ROWS = {0: 3_851_127, 1: 2_963_487, 2: 166_738, 3: 134_482, 4: 44_698,
                    5: 29_063, 6: 32_739, 7: 2_774, 8: 4_976, 9: 1_338, 10: 29_188,
                    11: 195, 12: 13_512, 999: 50}  # fmt: skip
NULL_CATEGORY_ROWS = 44_625  # all with installments = 1
#: Category mix (A, B-or-null, C) in the odd city.
ODD_CITY_MIX = (0.12, 0.70, 0.18)
#: Spread of the A/B split between ordinary cities (logit scale), for a weak
#: city x category association (Cramer's V ~0.18 with the odd city).
CITY_MIX_SPREAD = 0.45

#: Denial probability by installments outside the odd city (~7.4% overall).
#: Plans are set lower than the observed 12% / 22% / 35% (2 / 6 / 12 installments)
#: because the odd city lifts them.
DENIAL_BY_INSTALLMENTS = {0: 0.071, 1: 0.071, 2: 0.085, 3: 0.10, 4: 0.115, 5: 0.14,
                          6: 0.167, 7: 0.19, 8: 0.21, 9: 0.23, 10: 0.25, 11: 0.27, 12: 0.285,
                          999: 0.25}  # fmt: skip
ODD_CITY_DENIAL_ODDS = 3.2  # lifts the odd city to ~21.6% denied

#: Each customer's reference month (month_lag = purchase month - reference month, <= 0),
#: as weights over 2017-01 .. 2018-02; most customers reference Feb 2018 (mode lag -2).
REFERENCE_MONTH_WEIGHT = (0, 0, 0.0075, 0.0075, 0.0075, 0.0075, 0.0075, 0.0075, 0.0075,
                          0.0075, 0.02, 0.03, 0.05, 0.84)  # fmt: skip
CUSTOMER_ACTIVITY_SIGMA = 1.0

N_MERCHANT_CATEGORIES = 327
MCC_MODE = 705
SUBSECTOR_MODE = 33
MAX_MCC = 891
MAX_SUBSECTOR = 41

RANGE_LETTERS = ("A", "B", "C", "D", "E")
RANGE_SHARE = (0.003, 0.015, 0.10, 0.35, 0.53)
MERCHANT_UNKNOWN_CITY_SHARE = 0.30
FULL_NULL_SALES_LAGS = 13
FULL_INF_PURCHASE_LAGS = 3
COMMON_MERCHANT_GROUP = 35

FIRST_NAMES = (
    "Cesar", "Mary", "Kathie", "Steven", "Maxine", "James", "John", "Robert", "Michael",
    "William", "David", "Richard", "Joseph", "Thomas", "Charles", "Patricia", "Jennifer",
    "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen", "Nancy",
    "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Paul", "Andrew", "Joshua", "Kenneth",
    "Kevin", "Brian", "George", "Edward", "Ronald", "Timothy", "Jason", "Jeffrey", "Ryan",
    "Jacob", "Gary", "Nicholas", "Eric", "Jonathan", "Stephen", "Larry", "Justin", "Scott",
    "Brandon", "Benjamin", "Samuel", "Gregory", "Frank", "Alexander", "Raymond", "Patrick",
    "Lisa", "Betty", "Margaret", "Sandra", "Ashley", "Kimberly", "Emily", "Donna",
    "Michelle", "Dorothy", "Carol", "Amanda", "Melissa", "Deborah", "Stephanie", "Rebecca",
    "Sharon", "Laura", "Cynthia", "Kathleen", "Amy", "Shirley", "Angela", "Helen", "Anna",
    "Brenda", "Pamela", "Nicole", "Emma", "Samantha", "Katherine", "Christine", "Debra",
    "Rachel", "Catherine", "Carolyn", "Janet", "Ruth", "Maria", "Heather",
)  # fmt: skip
LAST_NAMES = (
    "Hall", "Gray", "Sughrue", "Russell", "Flores", "Smith", "Johnson", "Williams", "Brown",
    "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez",
    "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis",
    "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen",
    "Hill", "Green", "Adams", "Nelson", "Baker", "Rivera", "Campbell", "Mitchell",
    "Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz",
    "Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy", "Cook",
    "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey", "Reed",
    "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks",
    "Chavez", "Wood", "James", "Bennett", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez",
    "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross",
)  # fmt: skip

# --------------------------------------------------------------------------------------
# Output contract
# --------------------------------------------------------------------------------------

TRANSACTIONS_SCHEMA = pa.schema(
    [
        ("authorized_flag", pa.string()),
        ("customer_id", pa.string()),
        ("city_id", pa.int64()),
        ("installments", pa.int64()),
        ("category", pa.string()),
        ("merchant_category_id", pa.int64()),
        ("merchant_id", pa.string()),
        ("month_lag", pa.int64()),
        ("purchase_date", pa.string()),
        ("state_id", pa.int64()),
        ("subsector_id", pa.int64()),
        ("purchase_amount", pa.float64()),
    ]
)

MERCHANT_COLUMNS = (
    "merchant_name", "merchant_id", "merchant_group_id", "merchant_category_id",
    "subsector_id", "numerical_1", "numerical_2", "most_recent_sales_range",
    "most_recent_purchases_range", "avg_sales_lag3", "avg_purchases_lag3",
    "active_months_lag3", "avg_sales_lag6", "avg_purchases_lag6", "active_months_lag6",
    "avg_sales_lag12", "avg_purchases_lag12", "active_months_lag12", "city_id", "state_id",
)  # fmt: skip

#: Planted transaction defects, in planting order (the manifest keeps this order).
TRANSACTION_DEFECTS = (
    "empty_purchase_date", "null_purchase_date", "unparseable_purchase_date",
    "null_amount", "nan_amount", "pos_inf_amount", "neg_inf_amount", "zero_amount",
    "negative_amount", "blank_category", "null_category", "unknown_merchant_id",
    "unknown_city", "null_city", "unknown_state", "installments_negative",
    "installments_999", "future_timestamp", "duplicate_rows",
)  # fmt: skip
MERCHANT_DEFECTS = ("ids_with_stray_spaces", "blank_names", "conflicting_name_ids")

#: Non-blank strings that are not a real 'yyyy-MM-dd HH:mm:ss' date-time. The calendar
#: impossibilities come early so that even the minimum count of 3 exercises one.
UNPARSEABLE_DATES = (
    "2017-13-45 25:61:00", "not a date", "2017-02-30 12:00:00", "2017/03/04 10:00",
    "2017-02-29 08:15:00", "2017-06-15 24:00:00", "2017-04-31 09:15:00",
    "2017-06-15 12:30:60", "20170304 100000",
)  # fmt: skip
BLANK_DATES = ("", "   ", " ")
BLANK_CATEGORIES = ("", "  ")
FUTURE_YEAR = b"2030"
#: (left, right) padding for merchant ids with stray spaces.
ID_PADDINGS = ((" ", " "), (" ", ""), ("", "  "))
BLANK_NAMES = ("", "   ")

DATE_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01]) ([01]\d|2[0-3]):[0-5]\d:[0-5]\d$"
MAX_KNOWN_INSTALLMENTS = 36

# Category codes used while building rows; they index CATEGORY_POOL (-1 = null).
CAT_A, CAT_B, CAT_C, CAT_EMPTY, CAT_SPACES = 0, 1, 2, 3, 4
CATEGORY_POOL = pa.array(["A", "B", "C", *BLANK_CATEGORIES])
FLAG_POOL = pa.array(["Y", "N"])


# --------------------------------------------------------------------------------------
# Small vectorised helpers
# --------------------------------------------------------------------------------------


def _scaled(full_value: float, fraction: float, minimum: int) -> int:
    """Scale a full-size count to the requested size, with a floor."""
    return max(minimum, round(full_value * fraction))


def _defect_count(rows: int) -> int:
    """How many rows (or ids) carry each planted defect: ~1 per 10k rows, at least 3."""
    return max(3, rows // 10_000)


def _draw(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """Draw ``size`` codes 0..k-1 with probabilities proportional to ``weights``."""
    return _draw_grouped(rng, np.asarray(weights, dtype=float)[None, :], np.zeros(size, int))


def _draw_grouped(rng: np.random.Generator, weights: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Draw one code per row from the row's own distribution ``weights[group[i]]``.

    All groups are handled by one ``searchsorted``: row g's cumulative distribution is
    shifted to (g, g + 1], and each draw ``u`` in [0, 1) is shifted by its group.
    """
    n_groups, k = weights.shape
    cdf = np.cumsum(weights, axis=1) / weights.sum(axis=1, keepdims=True)
    cdf[:, -1] = 1.0  # exact upper edge, so a draw never spills into the next group
    flat = (cdf + np.arange(n_groups)[:, None]).ravel()
    u = rng.random(len(group))
    codes = np.searchsorted(flat, group + u, side="right") - group * k
    return np.clip(codes, 0, k - 1)


def _allocate(weights: np.ndarray, total: int, minimum: int = 1) -> np.ndarray:
    """Split ``total`` into integer counts proportional to ``weights`` (largest remainder),
    each at least ``minimum``."""
    spare = total - minimum * len(weights)
    if spare < 0:
        raise ValueError(f"cannot give {len(weights)} groups {minimum} each out of {total}")
    if spare == 0:
        return np.full(len(weights), minimum, dtype=np.int64)
    # Take the guaranteed minimum out of each share first, so large groups keep their
    # proportional size instead of all shrinking to make room for the minimums.
    exact = np.maximum(weights / weights.sum() * total - minimum, 0.0)
    exact *= spare / exact.sum()
    counts = np.floor(exact).astype(np.int64)
    leftover = spare - int(counts.sum())
    counts[np.argsort(counts - exact, kind="stable")[:leftover]] += 1
    return counts + minimum


def _fixed_width_strings(chars: np.ndarray) -> pa.Array:
    """Turn an (n, width) uint8 matrix of ASCII bytes into an arrow string array."""
    n, width = chars.shape
    if (n + 1) * width >= 2**31:
        raise ValueError("string column too large for 32-bit offsets")
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(chars, dtype=np.uint8)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _ascii_matrix(strings: np.ndarray, width: int) -> np.ndarray:
    """Fixed-width ASCII strings (numpy unicode array) -> (n, width) uint8 matrix."""
    return np.asarray(strings).astype(f"S{width}").view(np.uint8).reshape(-1, width)


def _random_hex_ids(rng: np.random.Generator, prefix: str, n: int) -> pa.Array:
    """``n`` distinct ids ``prefix`` + 10 lowercase hex digits, in random order."""
    values = rng.choice(16**10, size=n, replace=False).astype(np.uint64)
    shifts = np.arange(36, -1, -4, dtype=np.uint64)  # ten nibbles, most significant first
    nibbles = ((values[:, None] >> shifts) & np.uint64(0xF)).astype(np.uint8)
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[nibbles]
    head = np.broadcast_to(np.frombuffer(prefix.encode(), dtype=np.uint8), (n, len(prefix)))
    return _fixed_width_strings(np.hstack([head, digits]))


def _cycle(values: tuple[Any, ...], n: int) -> list[Any]:
    """The first ``n`` items of ``values`` repeated (a short list, never row-sized)."""
    return [values[i % len(values)] for i in range(n)]


def _replace_at(array: pa.Array, positions: np.ndarray, values: pa.Array) -> pa.Array:
    """Return ``array`` with ``array[positions[j]] = values[j]``, without a Python loop."""
    index = np.arange(len(array), dtype=np.int64)
    index[positions] = len(array) + np.arange(len(positions))
    return pa.concat_arrays([array, values.cast(array.type)]).take(pa.array(index))


def _nullable(values: np.ndarray, null_mask: np.ndarray | None) -> pa.Array:
    return pa.array(values, mask=null_mask if null_mask is not None and null_mask.any() else None)


def _to_bool(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Arrow boolean (nulls = False) -> numpy bool."""
    return pc.fill_null(array, False).to_numpy(zero_copy_only=False).astype(bool)


# --------------------------------------------------------------------------------------
# Calendar: the 424 days of Jan 2017 .. Feb 2018 as fixed-width byte tables
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Calendar:
    days: np.ndarray  # datetime64[D]
    month: np.ndarray  # 0..13 per day
    day_weight: np.ndarray  # share of rows per day
    day_chars: np.ndarray  # (days, 11) b"yyyy-MM-dd "
    time_chars: np.ndarray  # (86400, 8) b"HH:mm:ss"


def _calendar() -> _Calendar:
    days = np.arange(FIRST_DAY, END_DAY, dtype="datetime64[D]")
    month = (days.astype("datetime64[M]") - FIRST_DAY.astype("datetime64[M]")).astype(int)
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    weekday_weight = np.asarray(WEEKDAY_WEIGHT)[weekday]
    month_weight_sum = np.bincount(month, weights=weekday_weight)
    day_weight = np.asarray(MONTH_ROWS, float)[month] * weekday_weight / month_weight_sum[month]

    day_chars = _ascii_matrix(np.char.add(np.datetime_as_string(days), " "), 11)
    second = np.arange(86_400)
    hms = np.stack([second // 3600, second // 60 % 60, second % 60], axis=1)
    digits = np.stack([hms // 10, hms % 10], axis=2).reshape(-1, 6).astype(np.uint8) + ord("0")
    colon = np.full((86_400, 1), ord(":"), dtype=np.uint8)
    time_chars = np.hstack([digits[:, 0:2], colon, digits[:, 2:4], colon, digits[:, 4:6]])
    return _Calendar(days, month, day_weight / day_weight.sum(), day_chars, time_chars)


def _timestamp_strings(cal: _Calendar, day: np.ndarray, second: np.ndarray) -> np.ndarray:
    """(n, 19) byte matrix of 'yyyy-MM-dd HH:mm:ss' for day index and second of day."""
    return np.hstack([cal.day_chars[day], cal.time_chars[second]])


# --------------------------------------------------------------------------------------
# Geography, merchants and customers (entity level: small arrays)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cities:
    ids: np.ndarray  # city_id values
    weight: np.ndarray  # share of transaction rows
    state: np.ndarray  # home state (-1 for the odd city)
    odd: int  # index of the odd city
    state_weight: np.ndarray  # weights over states 1..24 for stray rows


def _make_cities(rng: np.random.Generator) -> _Cities:
    heavy_ids = np.array(list(HEAVY_CITY_ROWS), dtype=np.int64)
    others = np.setdiff1d(np.arange(1, MAX_CITY_ID + 1), heavy_ids)
    tail_ids = np.sort(rng.choice(others, N_CITIES - len(heavy_ids), replace=False))
    # Long tail: most cities hold 1k-100k rows, none as many as the heavy five.
    tail_rows = np.minimum(rng.lognormal(np.log(8_000), 1.2, len(tail_ids)), 200_000)
    tail_rows *= (FULL_ROWS - sum(HEAVY_CITY_ROWS.values())) / tail_rows.sum()
    ids = np.concatenate([heavy_ids, tail_ids])
    weight = np.concatenate([np.array(list(HEAVY_CITY_ROWS.values()), float), tail_rows])

    state_weight = 1.0 / np.arange(1, N_STATES + 1) ** 0.8
    state_weight = rng.permutation(state_weight)
    state_weight[9 - 1] = 0.0
    state_weight *= (1 - STATE_9_TAIL_SHARE) / state_weight.sum()
    state_weight[9 - 1] = STATE_9_TAIL_SHARE
    state = 1 + _draw(rng, state_weight, len(ids))
    for i, city in enumerate(heavy_ids):  # five fixed cities, not rows
        state[i] = HEAVY_CITY_STATE.get(int(city), -1)
    odd = int(np.flatnonzero(ids == ODD_CITY)[0])
    return _Cities(ids, weight / weight.sum(), state, odd, state_weight)


def _merchant_row_counts(n_merchants: int, nonnull_rows: int, fraction: float) -> np.ndarray:
    """Rows per transacting merchant, busiest first, summing to ``nonnull_rows``.

    The ten busiest keep their real counts scaled by ``fraction``. The tail follows
    ``18,500 * fraction * (rank / 15) ** -alpha`` (capped at the tenth's count); alpha
    (~0.84 in the real file) is re-fitted so the tail absorbs exactly the remaining rows.
    Without the re-fit a small sample would have too few rows per merchant (fewer
    merchants, same steep decay).
    """
    top = np.asarray(TOP_MERCHANT_ROWS[: min(10, n_merchants)], float) * fraction
    ranks = np.arange(len(top) + 1, n_merchants + 1, dtype=float)
    tail_rows = nonnull_rows - top.sum()

    def tail(alpha: float) -> np.ndarray:
        return np.minimum(TAIL_ROWS_AT_15 * fraction * (ranks / 15) ** -alpha, top[-1])

    low, high = 0.0, 4.0
    if tail(low).sum() < tail_rows or tail(high).sum() > tail_rows:
        alpha = low if tail(low).sum() < tail_rows else high  # scale everything below
    else:
        for _ in range(60):  # bisection on a scalar
            alpha = (low + high) / 2
            low, high = (alpha, high) if tail(alpha).sum() > tail_rows else (low, alpha)
        alpha = (low + high) / 2
    return _allocate(np.concatenate([top, tail(alpha)]), nonnull_rows)


@dataclass(frozen=True)
class _Merchants:
    """Merchant-level attributes. Index 0..n_transacting-1 = transacting merchants by
    rank (0 = busiest), then idle merchants, then ids absent from merchants.csv."""

    ids: pa.Array
    n_transacting: int
    n_listed: int  # transacting + idle: the ids of merchants.csv
    row_counts: np.ndarray  # per transacting merchant
    home_city: np.ndarray  # city index, per listed merchant
    home_share: np.ndarray  # share of its sales in its home city
    mcc: np.ndarray
    subsector: np.ndarray


def _make_merchant_categories(
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A pool of merchant category ids (-1..891, mode 705), their subsector and weight."""
    others = np.setdiff1d(np.arange(0, MAX_MCC + 1), [MCC_MODE])
    mcc = np.concatenate([[MCC_MODE, -1], rng.choice(others, N_MERCHANT_CATEGORIES - 2, False)])
    weight = 1.0 / np.arange(1, N_MERCHANT_CATEGORIES + 1) ** 1.05
    weight[1:] = rng.permutation(weight[1:])  # the mode stays first, the rest shuffled
    subsector_weight = np.ones(MAX_SUBSECTOR)
    subsector_weight[SUBSECTOR_MODE - 1] = 6.0
    subsector = 1 + _draw(rng, subsector_weight, N_MERCHANT_CATEGORIES)
    subsector[0], subsector[1] = SUBSECTOR_MODE, -1
    return mcc, subsector, weight


def _make_merchants(
    rng: np.random.Generator, cities: _Cities, fraction: float, nonnull_rows: int, n_unknown: int
) -> _Merchants:
    n_transacting = _scaled(FULL_TRANSACTING_MERCHANTS, fraction, MIN_MERCHANTS)
    n_listed = n_transacting + _scaled(FULL_IDLE_MERCHANTS, fraction, 10)
    ids = _random_hex_ids(rng, "M_ID_", n_listed + n_unknown)
    row_counts = _merchant_row_counts(n_transacting, nonnull_rows, fraction)
    home_city = _draw(rng, cities.weight, n_listed)
    home_share = np.full(n_listed, HOME_CITY_SHARE)
    home_share[: min(10, n_transacting)] = 0.0
    home_city[0], home_share[0] = cities.odd, BUSIEST_HOME_SHARE
    mcc_pool, subsector_pool, mcc_weight = _make_merchant_categories(rng)
    mcc_code = _draw(rng, mcc_weight, n_listed)
    mcc_code[0] = 0  # the busiest merchant carries the modal category (705)
    return _Merchants(
        ids,
        n_transacting,
        n_listed,
        row_counts,
        home_city,
        home_share,
        mcc_pool[mcc_code],
        subsector_pool[mcc_code],
    )


@dataclass(frozen=True)
class _Customers:
    ids: pa.Array
    reference_month: np.ndarray  # 0..13, sorted ascending
    cum_activity: np.ndarray  # cumulative activity, in reference-month order
    group_bounds: np.ndarray  # cum_activity at the start/end of each reference month


def _make_customers(rng: np.random.Generator, fraction: float) -> _Customers:
    n = _scaled(FULL_CUSTOMERS, fraction, MIN_CUSTOMERS)
    ids = _random_hex_ids(rng, "C_ID_", n)
    reference = _draw(rng, np.asarray(REFERENCE_MONTH_WEIGHT), n)
    reference[0] = len(MONTH_ROWS) - 1  # Feb 2018 is never empty: every row can use it
    reference = np.sort(reference)
    cum = np.cumsum(rng.lognormal(0.0, CUSTOMER_ACTIVITY_SIGMA, n))
    starts = np.searchsorted(reference, np.arange(len(MONTH_ROWS) + 1))
    bounds = np.concatenate([[0.0], cum])[starts]
    return _Customers(ids, reference, cum, bounds)


# --------------------------------------------------------------------------------------
# Transaction rows
# --------------------------------------------------------------------------------------


@dataclass
class _Rows:
    """Row-level columns as numpy arrays (codes for the string columns)."""

    denied: np.ndarray
    customer: np.ndarray
    city: np.ndarray
    installments: np.ndarray
    category: np.ndarray  # CAT_* code, -1 = null
    mcc: np.ndarray
    merchant: np.ndarray  # index into _Merchants.ids, -1 = null
    month_lag: np.ndarray
    day: np.ndarray
    second: np.ndarray
    state: np.ndarray
    subsector: np.ndarray
    amount: np.ndarray
    city_null: np.ndarray
    amount_null: np.ndarray
    date_positions: list[np.ndarray] = field(default_factory=list)
    date_values: list[pa.Array] = field(default_factory=list)

    def override_dates(self, positions: np.ndarray, values: pa.Array) -> None:
        self.date_positions.append(positions)
        self.date_values.append(values)


def _row_merchants(rng: np.random.Generator, merchants: _Merchants, n_null: int) -> np.ndarray:
    """Each merchant's rows (plus the null-id rows, -1) in random order."""
    counts = np.concatenate([[n_null], merchants.row_counts])
    return rng.permutation(np.repeat(np.arange(-1, merchants.n_transacting), counts))


def _row_cities(
    rng: np.random.Generator, merchant: np.ndarray, merchants: _Merchants, cities: _Cities
) -> np.ndarray:
    """City index per row: the merchant's home city, or anywhere (by city weight)."""
    known = merchant >= 0
    safe = np.where(known, merchant, 0)
    at_home = known & (rng.random(len(merchant)) < merchants.home_share[safe])
    anywhere = _draw(rng, cities.weight, len(merchant))
    return np.where(at_home, merchants.home_city[safe], anywhere)


def _row_states(rng: np.random.Generator, city: np.ndarray, cities: _Cities) -> np.ndarray:
    """Each city sits mostly in one state; the odd city is mostly state -1."""
    n = len(city)
    u = rng.random(n)
    stray = 1 + _draw(rng, cities.state_weight, n)
    odd = city == cities.odd
    state = np.where(u < HOME_STATE_SHARE, cities.state[city], stray)
    state = np.where(u > 1 - STRAY_UNKNOWN_STATE, -1, state)
    return np.where(odd, np.where(u < ODD_CITY_UNKNOWN_STATE, -1, stray), state)


def _category_mix_by_city(rng: np.random.Generator, cities: _Cities) -> np.ndarray:
    """(cities, 3) probabilities of A / B-or-null / C, matching the full-file totals."""
    total = np.array([INSTALLMENT_ROWS[0], INSTALLMENT_ROWS[1], 0.0])
    total[2] = FULL_ROWS - total.sum()
    odd_rows = HEAVY_CITY_ROWS[ODD_CITY]
    rest = (total - odd_rows * np.asarray(ODD_CITY_MIX)) / (FULL_ROWS - odd_rows)
    # Tilt the A/B split of the tail cities around the common mix (the heavy cities
    # would swing the totals); C keeps its share. Re-centre so the totals still match.
    ab = rest[0] + rest[1]
    noise = rng.normal(0.0, CITY_MIX_SPREAD, len(cities.ids))
    noise[: len(HEAVY_CITY_ROWS)] = 0.0
    share_a = ab / (1 + np.exp(-(np.log(rest[0] / rest[1]) + noise)))
    ordinary = np.arange(len(cities.ids)) != cities.odd
    weight = cities.weight[ordinary]
    share_a += rest[0] - (share_a[ordinary] * weight).sum() / weight.sum()
    share_a = np.clip(share_a, 0.01, ab - 0.01)
    mix = np.stack([share_a, ab - share_a, np.full(len(cities.ids), rest[2])], axis=1)
    mix[cities.odd] = ODD_CITY_MIX
    return mix


def _row_installments(
    rng: np.random.Generator, city: np.ndarray, cities: _Cities
) -> tuple[np.ndarray, np.ndarray]:
    """Installments and category code. Category follows from installments."""
    group = _draw_grouped(rng, _category_mix_by_city(rng, cities), city)
    # Plan lengths are dealt out in exact proportions (so the rare 999 sentinel appears
    # ~50 times at full scale), then shuffled over the plan rows.
    plan_values = np.array([k for k in INSTALLMENT_ROWS if k >= 2])
    plan_weight = np.array([INSTALLMENT_ROWS[k] for k in plan_values], float)
    is_plan = group == 2
    plan_counts = _allocate(plan_weight, int(is_plan.sum()), minimum=0)
    installments = (group == 1).astype(np.int64)  # 0 for A, 1 for B/null
    installments[is_plan] = rng.permutation(np.repeat(plan_values, plan_counts))
    category = group.astype(np.int8)  # CAT_A, CAT_B, CAT_C in that order
    null_share = NULL_CATEGORY_ROWS / INSTALLMENT_ROWS[1]
    category[(group == 1) & (rng.random(len(city)) < null_share)] = -1
    return installments, category


def _row_denied(
    rng: np.random.Generator, installments: np.ndarray, city: np.ndarray, cities: _Cities
) -> np.ndarray:
    """Denials rise with installments and are ~3x as likely (odds) in the odd city."""
    lookup = np.zeros(max(INSTALLMENT_ROWS) + 1)
    lookup[list(DENIAL_BY_INSTALLMENTS)] = list(DENIAL_BY_INSTALLMENTS.values())
    p = lookup[installments]
    odds = p / (1 - p) * np.where(city == cities.odd, ODD_CITY_DENIAL_ODDS, 1.0)
    return rng.random(len(city)) < odds / (1 + odds)


def _hour_profiles() -> np.ndarray:
    """(2, 24) hour weights: row 0 for A/B/null, row 1 for C.

    The A/B profile is what remains of the overall profile once C's later profile is
    taken out, so the mix reproduces the overall one; the exact-midnight pile-up is
    taken out of hour 00 because it is added separately.
    """
    total = np.asarray(HOUR_SHARE) / sum(HOUR_SHARE)
    late = np.asarray(HOUR_SHARE_C) / sum(HOUR_SHARE_C)
    c_share = 1 - (INSTALLMENT_ROWS[0] + INSTALLMENT_ROWS[1]) / FULL_ROWS
    early = (total - c_share * late) / (1 - c_share)
    null_share = NULL_CATEGORY_ROWS / FULL_ROWS
    midnight = null_share * MIDNIGHT_SHARE_NULL_CATEGORY + MIDNIGHT_SHARE_OTHER
    early[0] = max(early[0] - midnight / (1 - c_share), 0.001)
    return np.stack([early, late])


def _row_times(
    rng: np.random.Generator, cal: _Calendar, category: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Day index (0..423) and second of day per row."""
    n = len(category)
    day = _draw(rng, cal.day_weight, n)
    if n >= 10 * len(cal.days):
        day[: len(cal.days)] = np.arange(len(cal.days))  # every day of every month occurs
    hour = _draw_grouped(rng, _hour_profiles(), (category == CAT_C).astype(np.int64))
    second = hour * 3600 + rng.integers(0, 3600, n)
    midnight_share = np.where(category < 0, MIDNIGHT_SHARE_NULL_CATEGORY, MIDNIGHT_SHARE_OTHER)
    second[rng.random(n) < midnight_share] = 0
    return day, second


def _row_customers(
    rng: np.random.Generator, month: np.ndarray, customers: _Customers
) -> tuple[np.ndarray, np.ndarray]:
    """Customer index and month_lag per row.

    A row in month m can only belong to a customer whose reference month is >= m
    (month_lag <= 0), so the reference month is drawn first given m, then a customer
    of that reference month by activity.
    """
    n_months = len(MONTH_ROWS)
    present = np.diff(customers.group_bounds) > 0
    weight = np.asarray(REFERENCE_MONTH_WEIGHT) * present
    allowed = np.triu(np.ones((n_months, n_months)))  # [m, r] = 1 where r >= m
    reference = _draw_grouped(rng, allowed * weight[None, :], month)
    low, high = customers.group_bounds[reference], customers.group_bounds[reference + 1]
    target = low + rng.random(len(month)) * (high - low)
    customer = np.searchsorted(customers.cum_activity, target, side="right")
    return np.minimum(customer, len(customers.cum_activity) - 1), month - reference


def _make_rows(
    rng: np.random.Generator,
    n: int,
    cal: _Calendar,
    cities: _Cities,
    merchants: _Merchants,
    customers: _Customers,
    n_null_merchant: int,
) -> _Rows:
    merchant = _row_merchants(rng, merchants, n_null_merchant)
    city = _row_cities(rng, merchant, merchants, cities)
    state = _row_states(rng, city, cities)
    installments, category = _row_installments(rng, city, cities)
    denied = _row_denied(rng, installments, city, cities)
    day, second = _row_times(rng, cal, category)
    customer, month_lag = _row_customers(rng, cal.month[day], customers)
    # Rows without a merchant id still have a merchant category: borrow a random sale's.
    donor = merchant.copy()
    no_id = merchant < 0
    donor[no_id] = _draw(rng, merchants.row_counts, int(no_id.sum()))
    amount = np.round(rng.uniform(100, 20_000, n) + rng.uniform(100, 20_000, n), 2)
    return _Rows(
        denied=denied,
        customer=customer,
        city=cities.ids[city],
        installments=installments.astype(np.int64),
        category=category,
        mcc=merchants.mcc[donor],
        merchant=merchant,
        month_lag=month_lag.astype(np.int64),
        day=day,
        second=second,
        state=state.astype(np.int64),
        subsector=merchants.subsector[donor],
        amount=amount,
        city_null=np.zeros(n, bool),
        amount_null=np.zeros(n, bool),
    )


# --------------------------------------------------------------------------------------
# Planted transaction defects (dirty mode)
# --------------------------------------------------------------------------------------


class _Picker:
    """Chooses rows for planted defects so that no row gets two of them."""

    def __init__(self, rng: np.random.Generator, n: int) -> None:
        self.rng = rng
        self.used = np.zeros(n, dtype=bool)

    def pick(self, k: int, eligible: np.ndarray | None = None) -> np.ndarray:
        free = ~self.used if eligible is None else eligible & ~self.used
        chosen = np.sort(self.rng.choice(np.flatnonzero(free), size=k, replace=False))
        self.used[chosen] = True
        return chosen


def _plant_transaction_defects(
    rng: np.random.Generator, rows: _Rows, cal: _Calendar, merchants: _Merchants, k: int
) -> tuple[dict[str, int], np.ndarray]:
    """Plant every defect on ``k`` rows each (disjoint). Returns the planted counts and
    the (clean) rows to duplicate."""
    picker = _Picker(rng, len(rows.amount))
    planted: dict[str, int] = {}

    # Unknown ids first and only on merchants with more than k rows, so every listed
    # merchant that transacted before planting still transacts after it.
    busy = np.zeros(len(rows.merchant), dtype=bool)
    known = rows.merchant >= 0
    busy[known] = merchants.row_counts[rows.merchant[known]] > k
    pos = picker.pick(k, busy)
    rows.merchant[pos] = merchants.n_listed + np.arange(k)
    planted["unknown_merchant_id"] = k

    pos = picker.pick(k)
    rows.override_dates(pos, pa.array(_cycle(BLANK_DATES, k), pa.string()))
    planted["empty_purchase_date"] = k
    pos = picker.pick(k)
    rows.override_dates(pos, pa.nulls(k, pa.string()))
    planted["null_purchase_date"] = k
    pos = picker.pick(k)
    rows.override_dates(pos, pa.array(_cycle(UNPARSEABLE_DATES, k), pa.string()))
    planted["unparseable_purchase_date"] = k
    pos = picker.pick(k)
    future = _timestamp_strings(cal, rows.day[pos], rows.second[pos])
    future[:, :4] = np.frombuffer(FUTURE_YEAR, dtype=np.uint8)
    rows.override_dates(pos, _fixed_width_strings(future))
    planted["future_timestamp"] = k

    rows.amount_null[picker.pick(k)] = True
    planted["null_amount"] = k
    for name, value in (
        ("nan_amount", np.nan),
        ("pos_inf_amount", np.inf),
        ("neg_inf_amount", -np.inf),
        ("zero_amount", 0.0),
    ):
        rows.amount[picker.pick(k)] = value
        planted[name] = k
    pos = picker.pick(k)
    rows.amount[pos] = -rows.amount[pos]
    planted["negative_amount"] = k

    rows.category[picker.pick(k)] = np.array(_cycle((CAT_EMPTY, CAT_SPACES), k), np.int8)
    planted["blank_category"] = k
    rows.category[picker.pick(k, rows.category >= 0)] = -1
    planted["null_category"] = k

    rows.city[picker.pick(k)] = -1
    planted["unknown_city"] = k
    rows.city_null[picker.pick(k)] = True
    planted["null_city"] = k
    rows.state[picker.pick(k, rows.state != -1)] = -1
    planted["unknown_state"] = k

    plain = (rows.installments >= 0) & (rows.installments <= MAX_KNOWN_INSTALLMENTS)
    rows.installments[picker.pick(k, plain)] = -1
    planted["installments_negative"] = k
    pos = picker.pick(k, plain)
    rows.installments[pos] = 999
    rows.category[pos] = CAT_C  # the source files put 999 in category C
    planted["installments_999"] = k

    duplicate_sources = picker.pick(k)  # otherwise-clean rows, copied at the end
    planted["duplicate_rows"] = k
    return {name: planted[name] for name in TRANSACTION_DEFECTS}, duplicate_sources


def _transactions_table(
    rows: _Rows, cal: _Calendar, merchants: _Merchants, customers: _Customers
) -> pa.Table:
    """Assemble the arrow table in the contract's column order and types."""
    purchase_date = _fixed_width_strings(_timestamp_strings(cal, rows.day, rows.second))
    if rows.date_positions:
        purchase_date = _replace_at(
            purchase_date, np.concatenate(rows.date_positions), pa.concat_arrays(rows.date_values)
        )
    columns = {
        "authorized_flag": FLAG_POOL.take(pa.array(rows.denied.astype(np.int8))),
        "customer_id": customers.ids.take(pa.array(rows.customer)),
        "city_id": _nullable(rows.city, rows.city_null),
        "installments": pa.array(rows.installments),
        "category": CATEGORY_POOL.take(_nullable(rows.category, rows.category < 0)),
        "merchant_category_id": pa.array(rows.mcc.astype(np.int64)),
        "merchant_id": merchants.ids.take(_nullable(rows.merchant, rows.merchant < 0)),
        "month_lag": pa.array(rows.month_lag),
        "purchase_date": purchase_date,
        "state_id": pa.array(rows.state),
        "subsector_id": pa.array(rows.subsector.astype(np.int64)),
        "purchase_amount": _nullable(rows.amount, rows.amount_null),
    }
    return pa.Table.from_arrays(list(columns.values()), schema=TRANSACTIONS_SCHEMA)


# --------------------------------------------------------------------------------------
# merchants.csv
# --------------------------------------------------------------------------------------


def _merchant_names(rng: np.random.Generator, n: int) -> pa.Array:
    """Names like 'Cesar Hall inc'; the k-th reuse of a first/last pair in file order
    becomes 'Mary Gray k inc', so every row's name is unique in the file."""
    first = rng.integers(0, len(FIRST_NAMES), n)
    last = rng.integers(0, len(LAST_NAMES), n)
    first[0], last[0] = FIRST_NAMES.index("Cesar"), LAST_NAMES.index("Hall")
    pair = first * len(LAST_NAMES) + last
    order = np.argsort(pair, kind="stable")  # file order within each pair
    sorted_pair = pair[order]
    starts = np.flatnonzero(np.r_[True, sorted_pair[1:] != sorted_pair[:-1]])
    group_start = np.repeat(starts, np.diff(np.r_[starts, n]))
    occurrence = np.empty(n, dtype=np.int64)
    occurrence[order] = np.arange(n) - group_start + 1
    number = pc.binary_join_element_wise(" ", pc.cast(pa.array(occurrence), pa.string()), "")
    suffix = pc.if_else(pa.array(occurrence > 1), number, "")
    return pc.binary_join_element_wise(
        pa.array(FIRST_NAMES).take(pa.array(first)),
        " ",
        pa.array(LAST_NAMES).take(pa.array(last)),
        suffix,
        " inc",
        "",
    )


def _merchant_attributes(
    rng: np.random.Generator, merchants: _Merchants, cities: _Cities
) -> dict[str, np.ndarray | pa.Array]:
    """Per listed merchant: every merchants.csv column except name and id."""
    n = merchants.n_listed
    fraction = n / (FULL_TRANSACTING_MERCHANTS + FULL_IDLE_MERCHANTS)
    group_id = np.where(rng.random(n) < 0.06, COMMON_MERCHANT_GROUP, rng.integers(1, 112_587, n))
    # Normalised numericals: most merchants sit on the minimum, a long tail above it.
    tail = np.where(rng.random(n) < 0.01, rng.integers(0, 18_000, n), 0)
    steps = rng.geometric(0.5, n) - 1 + tail
    steps2 = np.maximum(steps - rng.integers(0, 2, n), 0)
    sales_range = _draw(rng, np.asarray(RANGE_SHARE), n)
    purchases_range = np.where(
        rng.random(n) < 0.8, sales_range, _draw(rng, np.asarray(RANGE_SHARE), n)
    )
    attributes: dict[str, np.ndarray | pa.Array] = {
        "merchant_group_id": group_id.astype(np.int64),
        "merchant_category_id": merchants.mcc.astype(np.int64),
        "subsector_id": merchants.subsector.astype(np.int64),
        "numerical_1": np.round(-0.05747065 + 0.00998287 * steps, 8),
        "numerical_2": np.round(-0.05747065 + 0.00998287 * steps2, 8),
        "most_recent_sales_range": pa.array(RANGE_LETTERS).take(pa.array(sales_range)),
        "most_recent_purchases_range": pa.array(RANGE_LETTERS).take(pa.array(purchases_range)),
    }
    no_sales = rng.choice(n, _scaled(FULL_NULL_SALES_LAGS, fraction, 1), replace=False)
    infinite = rng.choice(n, _scaled(FULL_INF_PURCHASE_LAGS, fraction, 1), replace=False)
    for lag, full_share in ((3, 0.95), (6, 0.90), (12, 0.85)):
        sales = np.round(rng.lognormal(0.0, 0.2 + lag / 40, n), 2)
        purchases = np.round(rng.lognormal(0.0, 0.2 + lag / 40, n), 9)
        purchases[infinite] = np.inf  # written as the literal 'inf'
        null_sales = np.zeros(n, dtype=bool)
        null_sales[no_sales] = True
        active = np.where(rng.random(n) < full_share, lag, rng.integers(1, lag, n))
        attributes[f"avg_sales_lag{lag}"] = _nullable(sales, null_sales)
        attributes[f"avg_purchases_lag{lag}"] = purchases
        attributes[f"active_months_lag{lag}"] = active.astype(np.int64)
    city = cities.ids[merchants.home_city]
    attributes["city_id"] = np.where(rng.random(n) < MERCHANT_UNKNOWN_CITY_SHARE, -1, city)
    attributes["state_id"] = cities.state[merchants.home_city].astype(np.int64)
    return attributes


def _merchants_table(
    rng: np.random.Generator,
    merchants: _Merchants,
    cities: _Cities,
    fraction: float,
    dirty: bool,
    k: int,
) -> tuple[pa.Table, dict[str, int]]:
    """One row per listed id, extra rows (other names) for repeated ids, planted defects."""
    attributes = _merchant_attributes(rng, merchants, cities)

    # Natural repeats: the busiest merchant plus a few random transacting ones.
    n_repeated = _scaled(FULL_REPEATED_IDS, fraction, 3)
    n_extra = max(n_repeated, round(FULL_REPEAT_EXTRA_ROWS * fraction))
    candidates = rng.permutation(np.arange(1, merchants.n_transacting))
    repeated = np.concatenate([[0], candidates[: n_repeated - 1]])
    extras = 1 + rng.multinomial(n_extra - n_repeated, np.full(n_repeated, 1 / n_repeated))
    # Planted ids come from other single-row transacting merchants, disjoint per defect.
    k_plant = k if dirty else 0
    stray, blank, conflict = np.split(
        candidates[n_repeated - 1 : n_repeated - 1 + 3 * k_plant], [k_plant, 2 * k_plant]
    )

    row_merchant = np.concatenate(
        [np.arange(merchants.n_listed), np.repeat(repeated, extras), conflict]
    )
    # Shuffle the file, but keep the busiest merchant's first row on top so its name is
    # the plain 'Cesar Hall inc' (the first use of that name pair).
    order = rng.permutation(len(row_merchant))
    order = np.concatenate([[0], order[order != 0]])
    row_merchant = row_merchant[order]

    names = _merchant_names(rng, len(row_merchant))
    ids = merchants.ids.take(pa.array(row_merchant))
    if dirty:
        blank_rows = np.flatnonzero(np.isin(row_merchant, blank))
        names = _replace_at(names, blank_rows, pa.array(_cycle(BLANK_NAMES, k)))
        stray_rows = np.flatnonzero(np.isin(row_merchant, stray))
        pads = _cycle(ID_PADDINGS, k)
        padded = pc.binary_join_element_wise(
            pa.array([p[0] for p in pads]),
            ids.take(pa.array(stray_rows)),
            pa.array([p[1] for p in pads]),
            "",
        )
        ids = _replace_at(ids, stray_rows, padded)

    columns: dict[str, pa.Array] = {"merchant_name": names, "merchant_id": ids}
    row_index = pa.array(row_merchant)
    for name, values in attributes.items():
        array = values if isinstance(values, pa.Array) else pa.array(values)
        columns[name] = array.take(row_index)
    table = pa.table({name: columns[name] for name in MERCHANT_COLUMNS})
    planted = {
        "ids_with_stray_spaces": k_plant,
        "blank_names": k_plant,
        "conflicting_name_ids": k_plant,
    }
    return table, planted


# --------------------------------------------------------------------------------------
# Manifest counts, recomputed from the final arrays
# --------------------------------------------------------------------------------------


def parseable_dates(dates: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """True where the string is a real calendar date-time 'yyyy-MM-dd HH:mm:ss'.

    The pattern checks the layout and field ranges; arrow's strptime rolls impossible
    days over (Feb 30 -> Mar 2), so the parsed day must equal the written day.
    """
    shaped = pc.fill_null(pc.match_substring_regex(dates, DATE_PATTERN), False)
    candidates = pc.if_else(shaped, dates, pa.scalar(None, pa.string()))
    parsed = pc.strptime(candidates, format="%Y-%m-%d %H:%M:%S", unit="s", error_is_null=True)
    written_day = pc.cast(pc.utf8_slice_codeunits(candidates, 8, 10), pa.int64())
    return _to_bool(pc.equal(pc.day(parsed), written_day))


def _rejections(table: pa.Table) -> tuple[dict[str, int], np.ndarray]:
    """Rejection counts by SPEC; a row gets the first reason that applies (date before
    amount), so the counts add up to the rejected rows. Also returns the valid-date mask."""
    dates = table["purchase_date"]
    missing_date = _to_bool(pc.is_null(dates)) | _to_bool(
        pc.equal(pc.utf8_trim_whitespace(dates), "")
    )
    valid_date = parseable_dates(dates)
    invalid_date = ~missing_date & ~valid_date
    amount = table["purchase_amount"]
    null_amount = _to_bool(pc.is_null(amount))
    non_finite = ~null_amount & ~_to_bool(pc.is_finite(amount))
    date_ok = ~missing_date & ~invalid_date
    rejected = {
        "missing_purchase_date": int(missing_date.sum()),
        "invalid_purchase_date": int(invalid_date.sum()),
        "missing_purchase_amount": int((date_ok & null_amount).sum()),
        "non_finite_purchase_amount": int((date_ok & non_finite).sum()),
    }
    return rejected, valid_date


def _unknown(column: pa.ChunkedArray) -> int:
    """Rows that are null or -1."""
    return int((_to_bool(pc.is_null(column)) | _to_bool(pc.equal(column, -1))).sum())


def _transaction_counts(
    table: pa.Table, valid_date: np.ndarray, merchant_ids: pa.Array
) -> dict[str, int]:
    category = table["category"]
    amount = table["purchase_amount"]
    installments = table["installments"]
    merchant = pc.utf8_trim_whitespace(table["merchant_id"])
    listed = pc.unique(pc.utf8_trim_whitespace(merchant_ids))
    future = valid_date & _to_bool(pc.greater(table["purchase_date"], LAST_TIMESTAMP))
    return {
        "null_merchant_id": int(_to_bool(pc.is_null(merchant)).sum()),
        "null_or_blank_category": int(
            (
                _to_bool(pc.is_null(category))
                | _to_bool(pc.equal(pc.utf8_trim_whitespace(category), ""))
            ).sum()
        ),
        "amount_le_zero": int(
            (_to_bool(pc.is_finite(amount)) & _to_bool(pc.less_equal(amount, 0.0))).sum()
        ),
        "denied": int(_to_bool(pc.equal(table["authorized_flag"], "N")).sum()),
        "unknown_city": _unknown(table["city_id"]),
        "unknown_state": _unknown(table["state_id"]),
        "installments_unknown": int(
            (
                _to_bool(pc.is_null(installments))
                | _to_bool(pc.less(installments, 0))
                | _to_bool(pc.greater(installments, MAX_KNOWN_INSTALLMENTS))
            ).sum()
        ),
        "future_timestamp": int(future.sum()),
        "merchant_id_not_in_merchants": int(
            (
                _to_bool(pc.is_valid(merchant)) & ~_to_bool(pc.is_in(merchant, value_set=listed))
            ).sum()
        ),
        "exact_duplicate_extra_rows": exact_duplicate_extra_rows(table),
    }


def exact_duplicate_extra_rows(table: pa.Table) -> int:
    """Rows minus distinct rows (nulls equal nulls, NaN equals NaN).

    Grouping 7M rows by all twelve columns takes ~15 s, so rows are first bucketed by a
    cheap key (customer and amount bits) that equal rows necessarily share; only rows in
    shared buckets are grouped exactly.
    """
    customer = pc.dictionary_encode(table["customer_id"].combine_chunks()).indices
    customer_code = pc.fill_null(customer, -1).to_numpy().astype(np.int64)
    amount = pc.fill_null(table["purchase_amount"], 0.0).to_numpy()
    amount = np.where(np.isnan(amount), np.nan, amount)  # one bit pattern for every NaN
    with np.errstate(over="ignore"):
        key = amount.view(np.int64) * np.int64(1_000_003) + customer_code  # may wrap: fine
    order = np.argsort(key, kind="stable")
    same_as_next = key[order[1:]] == key[order[:-1]]
    shared = np.zeros(len(key), dtype=bool)
    shared[1:] |= same_as_next
    shared[:-1] |= same_as_next
    candidates = table.take(pa.array(np.sort(order[shared])))
    return candidates.num_rows - candidates.group_by(table.column_names).aggregate([]).num_rows


def _merchant_counts(table: pa.Table) -> tuple[int, dict[str, int]]:
    """Distinct trimmed ids, and ids with conflicting names / without any name."""
    name = pc.utf8_trim_whitespace(table["merchant_name"])
    name = pc.if_else(pc.equal(name, ""), pa.scalar(None, pa.string()), name)
    by_id = pa.table({"id": pc.utf8_trim_whitespace(table["merchant_id"]), "name": name})
    names_per_id = by_id.group_by("id").aggregate([("name", "count_distinct")])
    distinct_names = names_per_id["name_count_distinct"].to_numpy()
    return names_per_id.num_rows, {
        "conflicting_name_ids": int((distinct_names > 1).sum()),
        "ids_without_name": int((distinct_names == 0).sum()),
    }


# --------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------


def generate(out_dir: Path, rows: int = FULL_ROWS, seed: int = 42, dirty: bool = False) -> dict:
    """Write synthetic Billups input files and their manifest.

    Writes ``out_dir/historical_transactions.parquet`` (one snappy file, ~1M-row row
    groups), ``out_dir/merchants.csv`` and ``out_dir/manifest.json``. Merchants and
    customers scale with ``rows``; the statistical shape follows DATA_PROFILE.md.

    With ``dirty=True`` each defect in :data:`TRANSACTION_DEFECTS` and
    :data:`MERCHANT_DEFECTS` is planted a known number of times (``max(3, rows //
    10_000)``), every planted transaction defect on its own rows; duplicate rows are
    copies of clean rows appended at the end and count towards ``rows``.

    Args:
        out_dir: directory to write into (created if missing; files are overwritten).
        rows: number of transaction rows in the file, at least :data:`MIN_ROWS`.
        seed: seed of the single ``numpy.random.Generator(PCG64(seed))``; the same
            ``(rows, seed, dirty)`` gives byte-identical files.
        dirty: plant data problems with exact counts.

    Returns:
        The manifest dict, as written to ``manifest.json``.
    """
    if rows < MIN_ROWS:
        raise ValueError(f"rows must be at least {MIN_ROWS}, got {rows}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.Generator(np.random.PCG64(seed))
    fraction = rows / FULL_ROWS
    k = _defect_count(rows)
    base_rows = rows - k if dirty else rows  # duplicates complete the requested count

    cal = _calendar()
    cities = _make_cities(rng)
    n_null_merchant = _scaled(FULL_NULL_MERCHANT_ROWS, fraction, 1)
    merchants = _make_merchants(
        rng, cities, fraction, base_rows - n_null_merchant, k if dirty else 0
    )
    customers = _make_customers(rng, fraction)
    tx_rows = _make_rows(rng, base_rows, cal, cities, merchants, customers, n_null_merchant)

    planted = dict.fromkeys(TRANSACTION_DEFECTS, 0)
    duplicates = np.empty(0, dtype=np.int64)
    if dirty:
        planted, duplicates = _plant_transaction_defects(rng, tx_rows, cal, merchants, k)
    transactions = _transactions_table(tx_rows, cal, merchants, customers)
    if len(duplicates):
        transactions = pa.concat_tables([transactions, transactions.take(duplicates)])
        transactions = transactions.combine_chunks()
    merchants_table, merchant_planted = _merchants_table(rng, merchants, cities, fraction, dirty, k)

    pq.write_table(
        transactions,
        out_dir / TRANSACTIONS_FILE,
        row_group_size=ROW_GROUP_SIZE,
        compression="snappy",
    )
    pacsv.write_csv(
        merchants_table,
        out_dir / MERCHANTS_FILE,
        pacsv.WriteOptions(quoting_style="none", quoting_header="none", eol="\n"),
    )

    rejected, valid_date = _rejections(transactions)
    distinct_ids, merchant_counts = _merchant_counts(merchants_table)
    manifest: dict[str, Any] = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "rows": rows,
        "dirty": dirty,
        "files": {"transactions": TRANSACTIONS_FILE, "merchants": MERCHANTS_FILE},
        "transactions": {
            "rows": transactions.num_rows,
            "rejected": rejected,
            "cleaned_rows": transactions.num_rows - sum(rejected.values()),
            "planted": planted,
            "counts": _transaction_counts(transactions, valid_date, merchants_table["merchant_id"]),
        },
        "merchants": {
            "rows": merchants_table.num_rows,
            "distinct_trimmed_ids": distinct_ids,
            "planted": merchant_planted,
            "counts": merchant_counts,
        },
    }
    (out_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
