"""txlab core: plain-Python data, statistics, models and money. Never imports dash or plotly."""
