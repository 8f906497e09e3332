"""Reports for leaders and professionals (issue 9): a static HTML page per geography with inline SVG charts,
an index, and a PDF of each page, from the published file only. See docs/reports.md."""

from brukerplan.report.build import ReportResult, ReportUsageError, build_reports

__all__ = ["ReportResult", "ReportUsageError", "build_reports"]
