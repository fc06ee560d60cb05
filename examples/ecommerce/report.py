"""The revenue report: a multi-page PDF rendered with matplotlib, published atomically.

matplotlib is imported inside the asset, so loading the definitions (``raystra assets list``)
stays fast. Figures are built with `matplotlib.figure.Figure` rather than pyplot: no global
figure manager and no GUI backend, which is what you want in a worker process (pyplot's state is
per process and not thread-safe). Pages are rendered by the PDF backend.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from examples.ecommerce.resources import ReportsDir, atomic_write_path
from raystra import AssetExecutionContext, MaterializeResult, asset

if TYPE_CHECKING:
    from matplotlib.backends.backend_pdf import PdfPages

__all__ = ["REPORT_FILE", "revenue_report"]

REPORT_FILE = "revenue_report.pdf"
_PAGE_SIZE = (11.0, 8.5)  # US letter, landscape
_ACCENT = "#2b6cb0"
_TOP_N_CHART = 10
_TOP_N_TABLE = 20
_CENTERED = {"ha": "center", "va": "center"}


@dataclass(frozen=True)
class _Headline:
    day: dt.date
    total_revenue: float
    orders: int
    customers: int
    units: int
    top_country: str
    top_country_share: float

    @property
    def avg_order_value(self) -> float:
        return self.total_revenue / self.orders if self.orders else 0.0


def _money(value: float, decimals: int = 0) -> str:
    return f"${value:,.{decimals}f}"


def _money_axis(axis: Any) -> None:
    from matplotlib.ticker import StrMethodFormatter

    axis.set_major_formatter(StrMethodFormatter("${x:,.0f}"))


def _headline(clean_sales: pd.DataFrame, sales_by_customer: pd.DataFrame) -> _Headline:
    by_country = clean_sales.groupby("country")["amount"].sum()
    total = float(clean_sales["amount"].sum())
    top = str(by_country.idxmax())
    return _Headline(
        day=clean_sales["order_ts"].min().date(),
        total_revenue=total,
        orders=int(clean_sales["order_id"].nunique()),
        customers=len(sales_by_customer),
        units=int(clean_sales["quantity"].sum()),
        top_country=top,
        top_country_share=float(by_country[top]) / total if total else 0.0,
    )


def _title_page(pdf: PdfPages, headline: _Headline, *, run_id: str) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=_PAGE_SIZE)
    fig.text(0.06, 0.86, "Daily revenue report", fontsize=30, weight="bold")
    fig.text(0.06, 0.80, f"{headline.day:%A %d %B %Y}", fontsize=16, color="0.35")
    cards = [
        ("Total revenue", _money(headline.total_revenue)),
        ("Orders", f"{headline.orders:,}"),
        ("Customers", f"{headline.customers:,}"),
        ("Top country", f"{headline.top_country} ({headline.top_country_share:.0%})"),
    ]
    for i, (label, value) in enumerate(cards):
        ax = fig.add_axes((0.06 + i * 0.225, 0.45, 0.2, 0.22))
        ax.set_facecolor("#edf2f7")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.text(
            0.5,
            0.58,
            value,
            transform=ax.transAxes,
            **_CENTERED,
            fontsize=22,
            weight="bold",
            color=_ACCENT,
        )
        ax.text(0.5, 0.25, label, transform=ax.transAxes, **_CENTERED, fontsize=12, color="0.3")
    fig.text(
        0.06,
        0.33,
        f"{headline.units:,} units sold; average order value "
        f"{_money(headline.avg_order_value, 2)}.",
        fontsize=13,
    )
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    fig.text(0.06, 0.05, f"Generated {generated} by raystra run {run_id}", fontsize=8, color="0.5")
    pdf.savefig(fig)


def _top_customers_page(pdf: PdfPages, sales_by_customer: pd.DataFrame) -> None:
    from matplotlib.figure import Figure

    top = sales_by_customer.nlargest(_TOP_N_CHART, "revenue").iloc[::-1]
    fig = Figure(figsize=_PAGE_SIZE, layout="constrained")
    ax = fig.subplots()
    labels = [f"{row.customer_id} ({row.country})" for row in top.itertuples(index=False)]
    bars = ax.barh(labels, top["revenue"], color=_ACCENT)
    ax.bar_label(bars, labels=[_money(v) for v in top["revenue"]], padding=4)
    ax.set_title(f"Top {_TOP_N_CHART} customers by revenue", fontsize=16, loc="left")
    ax.set_xlabel("Revenue (USD)")
    _money_axis(ax.xaxis)
    ax.margins(x=0.12)
    ax.spines[["top", "right"]].set_visible(False)
    pdf.savefig(fig)


def _revenue_breakdown_page(pdf: PdfPages, clean_sales: pd.DataFrame) -> None:
    from matplotlib.figure import Figure

    by_country = clean_sales.groupby("country")["amount"].sum().sort_values(ascending=False)
    by_hour = (
        clean_sales.groupby(clean_sales["order_ts"].dt.hour)["amount"]
        .sum()
        .reindex(range(24), fill_value=0.0)
    )
    fig = Figure(figsize=_PAGE_SIZE, layout="constrained")
    top_ax, bottom_ax = fig.subplots(2, 1, height_ratios=[3, 2])

    bars = top_ax.bar(by_country.index, by_country.to_numpy(), color=_ACCENT)
    shares = by_country / by_country.sum()
    top_ax.bar_label(bars, labels=[f"{s:.0%}" for s in shares], padding=3, fontsize=9)
    top_ax.set_title("Revenue by country", fontsize=16, loc="left")
    top_ax.set_ylabel("Revenue (USD)")
    top_ax.margins(y=0.12)

    bottom_ax.bar(by_hour.index, by_hour.to_numpy(), color="#90cdf4")
    bottom_ax.set_title("Revenue by hour of day", fontsize=12, loc="left")
    bottom_ax.set_xlabel("Hour")
    bottom_ax.set_ylabel("Revenue (USD)")
    bottom_ax.set_xticks(range(0, 24, 2))
    for ax in (top_ax, bottom_ax):
        ax.spines[["top", "right"]].set_visible(False)
        _money_axis(ax.yaxis)
    pdf.savefig(fig)


def _top_customers_table_page(pdf: PdfPages, sales_by_customer: pd.DataFrame) -> None:
    from matplotlib.figure import Figure

    top = sales_by_customer.nlargest(_TOP_N_TABLE, "revenue")
    columns = ["#", "Customer", "Country", "Orders", "Units", "Revenue", "First", "Last"]
    rows = [
        [
            str(rank),
            row.customer_id,
            row.country,
            f"{row.orders:,}",
            f"{row.units:,}",
            _money(row.revenue, 2),
            f"{row.first_order:%H:%M}",
            f"{row.last_order:%H:%M}",
        ]
        for rank, row in enumerate(top.itertuples(index=False), start=1)
    ]
    fig = Figure(figsize=_PAGE_SIZE)
    fig.text(0.06, 0.92, f"Top {_TOP_N_TABLE} customers", fontsize=16)
    ax = fig.add_axes((0.06, 0.05, 0.88, 0.83))
    ax.axis("off")
    table = ax.table(cellText=rows, colLabels=columns, loc="upper center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(10)
    table.scale(1, 1.5)
    for (row_index, _), cell in table.get_celld().items():
        cell.set_edgecolor("#cbd5e0")
        if row_index == 0:
            cell.set_facecolor(_ACCENT)
            cell.set_text_props(color="white", weight="bold")
        elif row_index % 2 == 0:
            cell.set_facecolor("#f7fafc")
    pdf.savefig(fig)


@asset(group_name="reporting")
def revenue_report(
    context: AssetExecutionContext,
    clean_sales: pd.DataFrame,
    sales_by_customer: pd.DataFrame,
    reports: ReportsDir,
) -> MaterializeResult:
    """The day's revenue report as a PDF: headline figures, top customers, revenue by country.

    Four pages: a title page (total revenue, orders, customers, top country), a bar chart of the
    top 10 customers by revenue, revenue by country and by hour of day, and a table of the top 20
    customers. Written to a temporary file and moved onto ``<reports>/revenue_report.pdf``, so
    readers never see a half-written report. The asset writes its own file, so it returns
    `MaterializeResult` (metadata only) and the IO manager is not involved.
    """
    from matplotlib.backends.backend_pdf import PdfPages

    headline = _headline(clean_sales, sales_by_customer)
    target = reports.file(REPORT_FILE)
    pdf_metadata = {
        "Title": f"Daily revenue report {headline.day:%Y-%m-%d}",
        "Author": "raystra examples.ecommerce",
        "Subject": f"raystra run {context.run_id}",
    }
    with atomic_write_path(target) as tmp, PdfPages(tmp, metadata=pdf_metadata) as pdf:
        _title_page(pdf, headline, run_id=context.run_id)
        _top_customers_page(pdf, sales_by_customer)
        _revenue_breakdown_page(pdf, clean_sales)
        _top_customers_table_page(pdf, sales_by_customer)
        pages = pdf.get_pagecount()
    context.log.info(
        "Wrote %d-page report to %s (total revenue %s)",
        pages,
        target,
        _money(headline.total_revenue, 2),
    )
    return MaterializeResult(
        metadata={
            "path": str(target),
            "pages": pages,
            "total_revenue": round(headline.total_revenue, 2),
            "orders": headline.orders,
            "customers": headline.customers,
            "top_country": headline.top_country,
        }
    )
