"""Reading Parquet: width and uncompressed size checked in the footer, text columns profiled like CSV."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.errors import IngestError
from core.ingest.cells import TEXT, is_text_type
from core.ingest.dialect import dedupe_headers
from core.ingest.finish import finish_columns
from core.ingest.kinds import Plan, is_id_name, name_tokens, profile_column
from core.ingest.report import IngestLimits, IngestReport, format_size


def read_parquet(data: bytes | bytearray, name: str, limits: IngestLimits) -> tuple[pa.Table, IngestReport]:
    """Read a Parquet file after checking its width and its uncompressed size in the footer."""
    try:
        pfile = pq.ParquetFile(pa.BufferReader(pa.py_buffer(data)))
        meta = pfile.metadata
    except Exception as exc:  # pyarrow raises several types for a broken footer
        raise IngestError(f"{name}: not a readable Parquet file ({exc}).") from None
    if meta.num_columns > limits.max_columns:
        raise IngestError(f"{name}: has {meta.num_columns} columns, more than the limit of {limits.max_columns} "
                          "(TXLAB_MAX_COLUMNS).")
    size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if size > limits.max_decompressed_bytes:
        raise IngestError(f"{name}: expands to {format_size(size)} uncompressed, more than the limit of "
                          f"{format_size(limits.max_decompressed_bytes)} (TXLAB_MAX_DECOMPRESSED_MB).")
    try:
        table = pfile.read()
    except Exception as exc:
        raise IngestError(f"{name}: not a readable Parquet file ({exc}).") from None
    if table.num_rows == 0:
        raise IngestError(f"{name}: has columns but no data rows.")
    originals = [str(c) for c in table.column_names]
    names, renamed = dedupe_headers([o.strip() for o in originals])
    plans = [_parquet_plan(n, table.column(i)) for i, n in enumerate(names)]
    table = table.rename_columns(names)
    table = pa.table([_parquet_column(table.column(i), p) for i, p in enumerate(plans)], names=names)
    columns = table.columns
    del table
    table, columns = finish_columns(columns, names, originals, plans, dayfirst=None)
    report = IngestReport(source_name=name, format="parquet", rows=table.num_rows, columns=columns,
                          renamed_headers=renamed)
    return table, report


def _parquet_plan(name: str, col: pa.ChunkedArray) -> Plan:
    """Typed Parquet columns keep their type (integer ids become text); text columns are profiled."""
    t = col.type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if is_text_type(t):
        sample = col.slice(0, 20_000)
        if pa.types.is_dictionary(col.type):
            sample = pc.cast(sample, t)
        plan = profile_column(name, sample, None)
        plan.arrow_type = TEXT  # parsed from text after the read, never cast by Arrow
        return plan
    if pa.types.is_integer(t) and is_id_name(name_tokens(name)):
        return Plan("id", TEXT, notes=["Integer ids kept as text."])
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return Plan("number", pa.float64() if pa.types.is_decimal(t) else t)
    if pa.types.is_boolean(t):
        return Plan("boolean", pa.bool_())
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return Plan("datetime", pa.timestamp("us"))
    return Plan("text", TEXT, notes=[f"Values of type {t} shown as text."])


def _parquet_column(col: pa.ChunkedArray, plan: Plan) -> pa.ChunkedArray:
    """Bring a Parquet column to the type its plan finishes from."""
    if pa.types.is_dictionary(col.type):
        col = pc.cast(col, col.type.value_type)
    if col.type == plan.arrow_type or plan.kind == "datetime":
        return col
    try:
        return pc.cast(col, plan.arrow_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.chunked_array([pa.array([None if v is None else str(v) for v in col.to_pylist()], TEXT)])
