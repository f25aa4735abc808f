"""How a result is shown: the report (Markdown and one self-contained HTML page),
the explorer's interactive views, the figures and the Markdown tables.

- :mod:`~jaxopt_lab.report.document`: a report as data (sections of paragraphs,
  images, tables, interactive views) and its renderers to ``report.md`` and
  ``report.html``; the page's script and style are in ``page/``;
- :mod:`~jaxopt_lab.report.explorer`: the 2-D explorer and the views of
  training runs and MNIST sweeps, built from a result folder;
- :mod:`~jaxopt_lab.report.leaderboard_view`: a leaderboard's section (scores,
  profiles, curves per workload, times), built from its folder;
- :mod:`~jaxopt_lab.report.figures`: the matplotlib figures of both labs;
- :mod:`~jaxopt_lab.report.tables`: the one Markdown table helper.

The report's blocks and :func:`markdown_table` are importable from here; the
explorer and the figures (which import contourpy, jax and matplotlib) are not
imported until asked for.
"""

from jaxopt_lab.report.document import (
    RENDERERS,
    Image,
    Interactive,
    Paragraph,
    Report,
    Section,
    Table,
    to_html,
    to_markdown,
    write_report,
)
from jaxopt_lab.report.tables import markdown_table, plain_markdown_table

__all__ = [
    "RENDERERS",
    "Image",
    "Interactive",
    "Paragraph",
    "Report",
    "Section",
    "Table",
    "markdown_table",
    "plain_markdown_table",
    "to_html",
    "to_markdown",
    "write_report",
]
