"""txlab core: plain-Python data, statistics, models and money. Never imports dash or plotly."""
import pyarrow as _pa

# Arrow's bundled mimalloc keeps freed memory for reuse; the system allocator hands it back.
# Measured on a 1M-row CSV: peak memory of reading then storing it fell from 4.1x to 3.1x its size.
_pa.set_memory_pool(_pa.system_memory_pool())
