"""The morning rides report: the dashboard table and a page for people."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from html import escape

import pandas as pd

from glimpse_assets.rides.conditions import CONTEXT_COLUMNS, SOURCE_COLUMNS
from glimpse_assets.storage.formats import HtmlDocument


def report_table(clustered: pd.DataFrame, summaries: pd.DataFrame) -> pd.DataFrame:
    """Every labelled ride, with its anomaly summary and what wrote it (empty for rides in a
    cluster)."""
    written_by = [c for c in ("provider", "model", "method") if c in summaries.columns]
    extra = summaries[["ride_id", "summary", *written_by]].rename(
        columns={column: f"summary_{column}" for column in written_by}
    )
    return clustered.merge(extra, on="ride_id", how="left", validate="one_to_one")


@dataclass(frozen=True)
class DayRate:
    day: str
    rides: int
    anomalies: int

    @property
    def rate(self) -> float | None:
        return self.anomalies / self.rides if self.rides else None


def _percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.2%}"


def _history_rows(today: DayRate, history: list[DayRate]) -> str:
    rows = [
        f"<tr><td>{escape(d.day)}</td><td>{d.rides:,}</td><td>{d.anomalies:,}</td>"
        f"<td>{_percent(d.rate)}</td></tr>"
        for d in [*history, today]
    ]
    return "\n".join(rows)


def compare_to_history(today: DayRate, history: list[DayRate]) -> str:
    rates = [d.rate for d in history if d.rate is not None]
    if today.rate is None:
        return "No rides today, so there is no anomaly rate to compare."
    if not rates:
        return "No earlier day in the previous 7 has a stored anomaly rate to compare with."
    mean = sum(rates) / len(rates)
    change = (
        "higher than" if today.rate > mean else "lower than" if today.rate < mean else "equal to"
    )
    return (
        f"Today's anomaly rate, {_percent(today.rate)}, is {change} the mean of the previous "
        f"{len(rates)} day(s), {_percent(mean)}."
    )


NOT_RECORDED = "not recorded"
CONTEXT_DETAIL = [*CONTEXT_COLUMNS, *SOURCE_COLUMNS]
WRITTEN_BY = ["summary_provider", "summary_model", "summary_method"]


def summaries_by_context(table: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct context of the anomalous rides: its conditions and where each came
    from, its summary and what wrote it, and how many anomalous rides it covers. Columns a table
    stored before they existed read as "not recorded"."""
    columns = [*CONTEXT_DETAIL, "summary", *WRITTEN_BY]
    anomalies = table[table["is_anomaly"]]
    if anomalies.empty:
        return pd.DataFrame(columns=[*columns, "rides"])
    detail = pd.DataFrame(
        {
            column: (
                anomalies[column].astype("string").fillna(NOT_RECORDED)
                if column in anomalies.columns
                else NOT_RECORDED
            )
            for column in columns
        },
        index=anomalies.index,
    )
    grouped = detail.groupby(columns, dropna=False, sort=False).size()
    return (
        grouped.rename("rides")
        .reset_index()
        .sort_values(["rides", "summary"], ascending=[False, True], kind="stable")
    )


def written_by(provider: str, model: str, method: str) -> str:
    """What wrote a summary, in words: an extractive summary says it is not an LLM's."""
    if method == NOT_RECORDED:
        method = "extractive, not an LLM" if provider == "offline" else "method not recorded"
    return f"{method} ({provider}, {model})"


def _condition(label: str, text: str, source: str) -> str:
    return f"<p><b>{label}:</b> {escape(text)} <span class='from'>[{escape(source)}]</span></p>"


def _summary_rows(table: pd.DataFrame) -> str:
    rows = []
    for row in summaries_by_context(table).itertuples(index=False):
        conditions = "".join(
            _condition(label, getattr(row, column), getattr(row, f"{column}_from"))
            for label, column in zip(("News", "Weather", "Traffic"), CONTEXT_COLUMNS, strict=True)
        )
        by = written_by(row.summary_provider, row.summary_model, row.summary_method)
        rows.append(
            f"<tr><td>{row.rides:,}</td><td>{conditions}</td><td>{escape(str(row.summary))}"
            f"<p class='from'>written by: {escape(by)}</p></td></tr>"
        )
    return "\n".join(rows)


PLOT_ALT = "scatter plot of ride distance against ride time, anomalies marked"


def report_page(
    city: str, today: DayRate, history: list[DayRate], table: pd.DataFrame, plot_png: bytes
) -> HtmlDocument:
    title = f"Rides report for {today.day}, {city}"
    if today.rides == 0:
        body = f"<p class='empty'>No rides for {escape(today.day)}: nothing to label.</p>"
    else:
        clusters = int(table.loc[table["cluster"] >= 0, "cluster"].nunique())
        plot = base64.b64encode(plot_png).decode("ascii")
        summary_rows = _summary_rows(table)
        body = f"""
<table class="figures">
<tr><th>rides</th><td>{today.rides:,}</td></tr>
<tr><th>clusters</th><td>{clusters}</td></tr>
<tr><th>anomalous rides</th><td>{today.anomalies:,}</td></tr>
<tr><th>anomaly rate</th><td>{_percent(today.rate)}</td></tr>
</table>
<h2>Anomaly rate against the previous 7 days</h2>
<p>{escape(compare_to_history(today, history))}</p>
<table><tr><th>day</th><th>rides</th><th>anomalies</th><th>rate</th></tr>
{_history_rows(today, history)}
</table>
<h2>Ride distance against time</h2>
<img alt="{PLOT_ALT}" src="data:image/png;base64,{plot}">
<h2>What may explain the anomalies</h2>
<p>Each condition says where it came from, in brackets; each summary says what wrote it.</p>
<table><tr><th>anomalous rides</th><th>conditions</th><th>summary of the conditions</th></tr>
{summary_rows}
</table>"""
    return HtmlDocument(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border-bottom: 1px solid #ddd; padding: .35rem .7rem; text-align: left; }}
img {{ max-width: 100%; }}
.empty {{ font-size: 1.2rem; }}
.from {{ color: #666; font-size: .85rem; }}
td p {{ margin: .2rem 0; }}
</style></head>
<body><h1>{escape(title)}</h1>{body}
</body></html>
"""
    )
