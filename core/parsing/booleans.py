"""Yes/no cells to a nullable boolean."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.parsing.cells import NA_TOKENS, bool_numpy, combine, mask_series, to_arrow_strings

TRUE_TOKENS: tuple[str, ...] = ("true", "t", "yes", "y", "1", "1.0", "on")
FALSE_TOKENS: tuple[str, ...] = ("false", "f", "no", "n", "0", "0.0", "off")


def parse_boolean(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Read yes/no cells as a nullable ``boolean`` Series; return ``(values, unparseable_mask)``.

    True: true/t/yes/y/1/on; False: false/f/no/n/0/off (any case). Blanks and missing markers
    become ``<NA>``; anything else is ``<NA>`` and flagged in the mask.
    """
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("boolean"), pd.Series(False, index=values.index, name=values.name)
    flags, bad = arrow_parse_boolean(to_arrow_strings(values))
    data = bool_numpy(flags)
    array = pd.arrays.BooleanArray(data, bool_numpy(pc.is_null(flags)))
    return pd.Series(array, index=values.index, name=values.name), mask_series(bad, values)


def arrow_parse_boolean(arr: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """``parse_boolean`` on an Arrow string array: a nullable bool array and the mask."""
    s = pc.utf8_lower(pc.utf8_trim_whitespace(arr))
    is_true = pc.is_in(s, value_set=pa.array(TRUE_TOKENS))
    is_false = pc.is_in(s, value_set=pa.array(FALSE_TOKENS))
    missing = pc.or_(pc.fill_null(pc.equal(s, ""), True), pc.is_in(s, value_set=pa.array([t.lower() for t in NA_TOKENS])))
    known = pc.or_(is_true, is_false)
    flags = pc.if_else(known, is_true, pa.scalar(None, pa.bool_()))
    bad = ~(bool_numpy(missing) | bool_numpy(known))
    return combine(flags), bad
